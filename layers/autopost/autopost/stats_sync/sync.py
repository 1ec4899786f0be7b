"""Statistics sync: due publications by an index query, grouped by connection, asked of each
platform in its batches, written back in batches, each moved to its next due time.

One run goes through the shards of every platform with statistics (VK, Rutube, Дзен;
Telegram has none and never enters the index). When its time is nearly up it hands a cursor
to the continuation queue and a new run starts there, so any number of publications sync
without a timeout. A connection that fails (expired token, refused) is deferred on its own;
a platform's rate limit stops that platform for this run; the rest go on.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from autopost.connecting.token_refresh import TokenRefresher
from autopost.domain.clock import utcnow
from autopost.domain.errors import PlatformError, PlatformRateLimited, TokenExpired
from autopost.domain.history import next_sample
from autopost.domain.models import Publication
from autopost.domain.platforms import Platform
from autopost.domain.stats_schedule import STATS_SHARDS
from autopost.infra.observability import logger
from autopost.infra.settings import Settings
from autopost.providers import dzen, vk
from autopost.providers.base import Provider
from autopost.storage.connections import ConnectionRepository
from autopost.storage.history import HistoryRepository
from autopost.storage.publications import PublicationRepository

PLATFORMS = (Platform.VK, Platform.RUTUBE, Platform.DZEN)
PAGE = 1000
# Publications gathered before calling the platform: a connection's posts go out in full
# batches; memory stays bounded (a few MB) for any number of publications.
GATHER_LIMIT = 20_000
MARGIN_SECONDS = 60.0
FAILED_RETRY = timedelta(hours=1)


def shards() -> list[str]:
    return [f"{platform.value}#{index}" for platform in PLATFORMS for index in range(STATS_SHARDS)]


@dataclass
class SyncReport:
    synced: int = 0
    deferred: int = 0
    platform_calls: int = 0
    rate_limited: list[str] = field(default_factory=list)
    cursor: dict[str, Any] | None = None


class StatsSync:
    def __init__(
        self,
        settings: Settings,
        publications: PublicationRepository,
        history: HistoryRepository,
        connections: ConnectionRepository,
        refresher: TokenRefresher,
        providers: Callable[[Platform], Provider],
        now: Callable[[], datetime] = utcnow,
        page_size: int = PAGE,
    ) -> None:
        self._page_size = page_size
        self._settings = settings
        self._publications = publications
        self._history = history
        self._connections = connections
        self._refresher = refresher
        self._providers = providers
        self._now = now

    def run(self, cursor: dict[str, Any] | None, remaining_seconds: Callable[[], float]) -> SyncReport:
        """Gather each platform's due publications from all its shards (so a connection's
        posts go out in full batches), sync them, then the next platform."""
        report = SyncReport()
        order = shards()
        position = order.index(cursor["shard"]) if cursor and cursor.get("shard") in order else 0
        key = (cursor or {}).get("key")
        now = self._now()
        gathered: list[Publication] = []
        while position < len(order):
            shard = order[position]
            platform = Platform(shard.split("#")[0])
            if platform.value in report.rate_limited:
                position += 1
                continue
            if remaining_seconds() < MARGIN_SECONDS:
                self._flush(platform, gathered, report)
                report.cursor = {"shard": shard, "key": key}
                return report
            due, key = self._publications.due_for_stats(shard, now, self._page_size, key)
            gathered += due
            if len(gathered) >= GATHER_LIMIT:
                self._flush(platform, gathered, report)
                gathered = []
            if key is None:
                position += 1
                last_of_platform = position == len(order) or not order[position].startswith(
                    f"{platform.value}#"
                )
                if last_of_platform:
                    self._flush(platform, gathered, report)
                    gathered = []
        return report

    def _flush(self, platform: Platform, due: list[Publication], report: SyncReport) -> None:
        if due and platform.value not in report.rate_limited and not self._sync(platform, due, report):
            report.rate_limited.append(platform.value)

    def _sync(self, platform: Platform, due: list[Publication], report: SyncReport) -> bool:
        """Sync one page of one platform; False when the platform asked us to slow down."""
        provider = self._providers(platform)
        by_connection: dict[str, list[Publication]] = defaultdict(list)
        for publication in due:
            by_connection[publication.user_id].append(publication)
        synced_at = self._now()
        for user_id, group in by_connection.items():
            with_posts = [p for p in group if p.post_id]
            try:
                stats = self._fetch(
                    provider, user_id, platform, [p.post_id for p in with_posts if p.post_id], report
                )
            except PlatformRateLimited:
                logger.info("stats rate limited", extra={"platform": platform.value})
                return False
            except PlatformError as exc:
                logger.info(
                    "stats deferred", extra={"platform": platform.value, "reason": type(exc).__name__}
                )
                self._publications.defer_stats([p.publication_id for p in group], synced_at + FAILED_RETRY)
                report.deferred += len(group)
                continue
            figures = [
                (p.publication_id, vars(stats[p.post_id]), self._next_due(p, synced_at))
                for p in with_posts
                if p.post_id in stats
            ]
            self._publications.record_stats(figures, synced_at)
            # The series: one point per sync, and syncs come on the sampling grid.
            self._history.add_samples((entry[0], synced_at, entry[1]) for entry in figures)
            missing = [p.publication_id for p in group if not p.post_id or p.post_id not in stats]
            if missing:
                self._publications.defer_stats(missing, synced_at + FAILED_RETRY)
                report.deferred += len(missing)
            report.synced += len(figures)
        return True

    def _fetch(
        self, provider: Provider, user_id: str, platform: Platform, post_ids: list[str], report: SyncReport
    ) -> dict:
        found = self._connections.cached_credentials(user_id, platform)
        if found is None or not found[0].is_active:
            raise TokenExpired()
        connection, credentials = found
        report.platform_calls += _calls(platform, len(post_ids))
        try:
            return provider.fetch_stats(credentials, post_ids)
        except TokenExpired:
            connection, credentials = self._refresher.refresh(provider, connection, credentials)
            report.platform_calls += _calls(platform, len(post_ids))
            return provider.fetch_stats(credentials, post_ids)

    def _next_due(self, publication: Publication, synced_at: datetime) -> datetime:
        return next_sample(publication.published_at or publication.created_at, synced_at)


def _calls(platform: Platform, posts: int) -> int:
    """Platform calls a batch costs: the provider's batch size (Rutube has none: one each)."""
    size = {Platform.VK: vk.STATS_BATCH, Platform.DZEN: dzen.STATS_BATCH}.get(platform, 1)
    return -(-posts // size)


def continuation_body(cursor: dict[str, Any]) -> str:
    return json.dumps({"cursor": cursor})


def stats_sync_from_settings(
    settings: Settings, page_size: int = PAGE, now: Callable[[], datetime] = utcnow
) -> StatsSync:
    from autopost.infra.secrets import token_cipher
    from autopost.providers import provider_for

    connections = ConnectionRepository(settings, token_cipher)
    return StatsSync(
        settings,
        PublicationRepository(settings),
        HistoryRepository(settings),
        connections,
        TokenRefresher(settings, connections),
        lambda platform: provider_for(platform, settings),
        now=now,
        page_size=page_size,
    )
