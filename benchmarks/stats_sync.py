"""Stats sync at scale: 10,000 published VK publications against the VK emulator.

    python benchmarks/stats_sync.py [--publications 10000] [--connections 10]

Prints the platform calls, the DynamoDB calls by operation and the seconds of one sync run.
Target: platform calls <= ceil(publications of a connection / 200) per connection, and no
Scan. DynamoDB is moto in-process; the emulator runs in this process too.
"""

from __future__ import annotations

import argparse
import collections
import math
import os
import time
import uuid
from datetime import UTC, datetime

from botocore.client import BaseClient
from moto import mock_aws

OPERATIONS: collections.Counter[str] = collections.Counter()
_original = BaseClient._make_api_call


def _counting(self, operation_name, api_params):
    OPERATIONS[f"{self.meta.service_model.service_name}:{operation_name}"] += 1
    return _original(self, operation_name, api_params)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--publications", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=10)
    args = parser.parse_args()
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "eu-central-1",
            "AWS_REGION": "eu-central-1",
            "POWERTOOLS_TRACE_DISABLED": "1",
            "POWERTOOLS_METRICS_DISABLED": "1",
            "PLATFORM_TOKEN_SECRET": uuid.uuid4().hex * 2,
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
    )
    from pydantic import SecretStr

    from autopost.domain.clock import to_iso
    from autopost.domain.models import Account, Credentials
    from autopost.domain.platforms import Platform
    from autopost.infra import runtime
    from autopost.infra.secrets import token_cipher
    from autopost.infra.settings import get_settings
    from autopost.stats_sync.sync import stats_sync_from_settings
    from autopost.storage.connections import ConnectionRepository
    from autopost.storage.tables import records
    from devstack.provision import provision
    from emulators.vk import VkEmulator

    vk = VkEmulator(enforce_rate_limit=False)
    vk.start()
    with mock_aws():
        stack = provision(
            stack_name="bench",
            region="eu-central-1",
            parameters={"JwtIssuer": "https://x", "JwtAudience": "y"},
        )
        for spec in stack.functions.values():
            os.environ.update(spec.environment)
        os.environ["VK_API_URL"] = vk.base_url
        runtime.reset()
        settings = get_settings()
        connections = ConnectionRepository(settings, token_cipher())
        table = records(settings).publication
        per_connection = math.ceil(args.publications / args.connections)
        now = to_iso(datetime.now(UTC))
        with table.batch_write() as batch:
            for index in range(args.connections):
                user = f"user-{index}"
                access, _ = vk.issue_token(user_id=1000 + index)
                connections.connect(
                    user,
                    Platform.VK,
                    Account(str(1000 + index), "VK"),
                    Credentials(SecretStr(access), account_id=str(1000 + index)),
                )
                for post in vk.add_videos(1000 + index, per_connection, views=5):
                    publication_id = str(uuid.uuid4())
                    batch.save(
                        table(
                            publication_id,
                            user_id=user,
                            clip_id=publication_id[:8],
                            clip_key=f"clips/{user}/c.mp4",
                            platform="vk",
                            status="published",
                            title="t",
                            created_at=now,
                            updated_at=now,
                            execution_name=publication_id,
                            post_id=post,
                            stats_shard=f"vk#{int(publication_id[:8], 16) % 10}",
                            stats_due_at=now,
                        )
                    )
        vk.calls.clear()
        OPERATIONS.clear()
        BaseClient._make_api_call = _counting
        started = time.perf_counter()
        report = stats_sync_from_settings(settings).run(None, lambda: 900.0)
        seconds = time.perf_counter() - started
        BaseClient._make_api_call = _original
    vk.stop()

    platform_calls = len([c for c in vk.calls if c["endpoint"] == "video.get"])
    target = args.connections * math.ceil(per_connection / 200)
    print(
        f"publications synced: {report.synced} of {args.connections * per_connection} ({args.connections} connections)"
    )
    print(
        f"platform calls (video.get): {platform_calls}  (target <= {target}: {'met' if platform_calls <= target else 'NOT met'})"
    )
    print(
        "DynamoDB calls:",
        ", ".join(
            f"{op.split(':')[1]} {n}" for op, n in sorted(OPERATIONS.items()) if op.startswith("dynamodb")
        ),
    )
    scans = sum(n for op, n in OPERATIONS.items() if op.endswith(":Scan"))
    print(f"Scan calls: {scans}  ({'met' if scans == 0 else 'NOT met'})")
    print(f"seconds: {seconds:.1f}")


if __name__ == "__main__":
    main()
