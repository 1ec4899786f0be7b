"""Where a published publication sits in the statistics index: a shard of its platform and
when it is due. The worker puts it there on publishing; the stats sync reads shard by shard."""

from __future__ import annotations

import hashlib

from autopost.domain.clock import to_iso, utcnow
from autopost.domain.platforms import Platform

# The stats index spreads each platform over this many partitions.
STATS_SHARDS = 10


def stats_schedule(publication_id: str, platform: Platform) -> dict[str, str | None]:
    """A newly published publication enters the stats index, due at once; Telegram's never
    does (the Bot API has no post statistics)."""
    if platform is Platform.TELEGRAM:
        return {}
    shard = int(hashlib.sha1(publication_id.encode()).hexdigest(), 16) % STATS_SHARDS  # noqa: S324 - spreading, not security
    return {"stats_shard": f"{platform.value}#{shard}", "stats_due_at": to_iso(utcnow())}
