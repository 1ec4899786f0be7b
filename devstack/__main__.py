"""`python -m devstack` (make dev): start the local stack and keep it running until Ctrl-C.
`python -m devstack token --user U --plan P` (make token): print a token for the local API."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from devstack import tokens


def serve(args: argparse.Namespace) -> int:
    from devstack.local import LocalStack, Options, PortTaken

    options = Options(
        api_port=args.port,
        moto_port=args.moto_port,
        retry_delays=args.retry_delays,
        task_timeout=args.task_timeout,
        schedule_seconds=args.stats_interval,
        log_level="INFO" if args.verbose else "WARNING",
        **({"state_file": Path(args.state_file)} if args.state_file else {}),
        trace_file=Path(args.trace_file) if args.trace_file else None,
    )
    stack = LocalStack(options)
    try:
        stack.start()
    except PortTaken as exc:
        print(f"autopost: {exc}", file=sys.stderr)
        return 2
    info = stack.describe()
    token = tokens.mint(args.user, args.plan)
    print(f"autopost local stack ready in {stack.started_in:.1f} s", flush=True)
    print(f"  API        {info['api']}   (OpenAPI: {info['api']}/openapi.json)")
    print(f"  Console    {info['console']}")
    print(f"  S3 (moto)  {info['s3']}   bucket {info['bucket']}, upload clips as clips/<user>/<clip>.mp4")
    for name, url in info["emulators"].items():
        print(f"  {name:<10} {url}   (emulator; state at {url}/_emulator/state)")
    print(f"  Token      {token}")
    print(f"             (user {args.user}, plan {args.plan}; others: make token USER=... PLAN=...)")
    print("Ctrl-C stops it.", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    print("stopping…", flush=True)
    stack.stop()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    run = commands.add_parser("serve", help="start the local stack (the default)")
    for target in (parser, run):
        target.add_argument("--port", type=int, default=3000, help="the API's port (default 3000)")
        target.add_argument("--moto-port", type=int, default=5566, help="moto's port (default 5566)")
        target.add_argument("--retry-delays", help="waits before the three retries, e.g. 5,10,20 for a demo")
        target.add_argument(
            "--task-timeout", type=int, help="upload task timeout in seconds (default: the template's)"
        )
        target.add_argument(
            "--stats-interval", type=float, help="seconds between stats syncs (default: the template's rate)"
        )
        target.add_argument("--user", default="demo-user", help="the user of the printed token")
        target.add_argument("--plan", default="pro", help="the plan of the printed token")
        target.add_argument("--verbose", action="store_true", help="log the handlers at INFO")
        target.add_argument(
            "--state-file", help="where to write the URLs as JSON (default .local/stack.json)"
        )
        target.add_argument(
            "--trace-file", help="trace the handlers (X-Ray) and keep their segments here, one JSON a line"
        )
    token = commands.add_parser("token", help="print a token for the local API")
    token.add_argument("--user", default="demo-user")
    token.add_argument("--plan", default="pro")
    args = parser.parse_args()
    if args.command == "token":
        print(tokens.mint(args.user, args.plan))
        return 0
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
