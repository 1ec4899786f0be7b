"""`python -m devstack` (make dev): start the local stack and keep it running until Ctrl-C.
`python -m devstack token --user U --plan P` (make token): print a token for the local API.
`python -m devstack upload [--file F] [--clip C] [--user U]` (make upload): put a clip in
the local S3 (a sample one when no file is given) and wait for its validation."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from devstack import tokens


def serve(args: argparse.Namespace) -> int:
    from devstack.local import STATE_FILE, LocalStack, Options, PortTaken

    options = Options(
        api_port=args.port,
        moto_port=args.moto_port,
        retry_delays=args.retry_delays,
        task_timeout=args.task_timeout,
        schedule_seconds=args.stats_interval,
        log_level="INFO" if args.verbose else "WARNING",
        connect_limit=args.connect_limit,
        state_file=Path(args.state_file) if args.state_file else STATE_FILE,
        trace_file=Path(args.trace_file) if args.trace_file else None,
        worker_timeout=args.worker_timeout,
        chaos_kill_rate=args.chaos_kill_rate,
        chaos_max_kills=args.chaos_max_kills,
    )
    stack = LocalStack(options)
    # Before the start: a Ctrl-C while it starts (its state file may be written already) must
    # still end in stop(), never in a KeyboardInterrupt that leaves the state file behind.
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stack.start()
    except PortTaken as exc:
        print(f"autopost: {exc}", file=sys.stderr)
        return 2
    info = stack.describe()
    token = tokens.mint(args.user, args.plan)
    accounts = info["accounts"]
    telegram, rutube = accounts["telegram"], accounts["rutube"]
    print(f"autopost local stack ready in {stack.started_in:.1f} s", flush=True)
    print(f"  API        {info['api']}   (OpenAPI: {info['api']}/openapi.json)")
    print(f"  Console    {info['console']}   (sign in as any user; the connect dialogs say what to enter)")
    print(f"  S3 (moto)  {info['s3']}   region {info['region']}, any keys (e.g. local/local),")
    print(f"             bucket {info['bucket']}, clips go to clips/<user>/<clip>.mp4:")
    print(f"             make upload [FILE=clip.mp4] CLIP=my-clip WHO={args.user}   (no FILE: a sample clip)")
    for name, url in info["emulators"].items():
        print(f"  {name:<10} {url}   (emulator; state at {url}/_emulator/state)")
    print("  Connect    VK: «Подключить», then «Разрешить» on the emulator's page")
    print(f"             Telegram: channel {telegram['channel']} with bot token {telegram['botToken']}")
    print(f"                       or {telegram['serviceChannel']} through {telegram['serviceBot']}")
    print(f"             Rutube: login {rutube['login']}, password {rutube['password']}")
    print("             Дзен: the session the console's dialog fills in for you")
    print(f"  Stats      synced every {stack.options.schedule_seconds or 60:.0f} s here (hourly in AWS)")
    print(f"  Token      {token}")
    print(f"             (user {args.user}, plan {args.plan}; others: make token WHO=... PLAN=...)")
    print("Ctrl-C stops it.", flush=True)
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
            "--stats-interval", type=float, default=20.0, help="seconds between stats syncs (default 20)"
        )
        target.add_argument(
            "--connect-limit",
            type=int,
            help="connect attempts a user may make in an hour (default 5, as in AWS; raise it to explore)",
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
        target.add_argument(
            "--worker-timeout",
            type=int,
            help="the publish worker's Lambda timeout in seconds (default: the template's)",
        )
        target.add_argument(
            "--chaos-kill-rate",
            type=float,
            default=0.0,
            help="kill the publish worker's environment in this share of its calls (fault tests)",
        )
        target.add_argument(
            "--chaos-max-kills", type=int, default=2, help="at most this many kills a publication (default 2)"
        )
    token = commands.add_parser("token", help="print a token for the local API")
    token.add_argument("--user", default="demo-user")
    token.add_argument("--plan", default="pro")
    upload = commands.add_parser("upload", help="upload a clip to the running local stack")
    upload.add_argument("--file", help="a .mp4, .mov or .webm file (default: a sample clip)")
    upload.add_argument("--clip", help="the clip's id (default: the file's name)")
    upload.add_argument("--user", default="demo-user")
    upload.add_argument("--state-file", help="the running stack's state (default .local/stack.json)")
    args = parser.parse_args()
    if args.command == "token":
        print(tokens.mint(args.user, args.plan))
        return 0
    if args.command == "upload":
        from devstack.local import STATE_FILE
        from devstack.upload import main as upload_clip

        return upload_clip(
            args.file, args.clip, args.user, Path(args.state_file) if args.state_file else STATE_FILE
        )
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
