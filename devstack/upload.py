"""`make upload [FILE=clip.mp4] CLIP=my-clip WHO=demo-user`: put a clip in the running local
stack's S3 as the rendering system does, and wait for the validator's verdict."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import httpx

from devstack import tokens
from devstack.local import STATE_FILE
from devstack.videos import make_video

CONTENT_TYPES = {"mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm"}


def running_stack(state_file: Path = STATE_FILE) -> dict[str, Any]:
    if not state_file.exists():
        raise SystemExit("the local stack is not running: start it with `make dev` first")
    return json.loads(state_file.read_text())


def s3_of(info: dict[str, Any]) -> Any:
    """moto's S3: any credentials, the stack's region."""
    return boto3.client(
        "s3",
        endpoint_url=info["s3"],
        region_name=info["region"],
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - moto takes any credentials
    )


def put_clip(info: dict[str, Any], user: str, clip: str, data: bytes, extension: str = "mp4") -> str:
    key = f"clips/{user}/{clip}.{extension}"
    s3_of(info).put_object(Bucket=info["bucket"], Key=key, Body=data, ContentType=CONTENT_TYPES[extension])
    return key


def verdict(info: dict[str, Any], user: str, clip: str, seconds: float = 30) -> dict[str, Any]:
    """The clip as the API shows it once the validator has looked at it."""
    api = httpx.Client(
        base_url=info["api"], headers={"Authorization": f"Bearer {tokens.mint(user)}"}, timeout=10
    )
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = api.get(f"/clips/{clip}")
        if found.status_code == 200:
            return found.json()
        time.sleep(0.5)
    raise SystemExit(f"clip {clip} was not validated within {seconds:.0f} s")


def main(file: str | None, clip: str | None, user: str, state_file: Path = STATE_FILE) -> int:
    info = running_stack(state_file)
    if file:
        path = Path(file)
        extension = path.suffix.lower().lstrip(".")
        if extension not in CONTENT_TYPES:
            raise SystemExit(f"{path.name}: clips are .mp4, .mov or .webm")
        data = path.read_bytes()
    else:
        # A vertical sample clip, as short-video platforms want them.
        extension, data = "mp4", make_video("mp4", seconds=5, width=360, height=640)
    name = clip or (Path(file).stem if file else f"sample-{time.strftime('%H%M%S')}")
    key = put_clip(info, user, name, data, extension)
    print(f"uploaded s3://{info['bucket']}/{key} ({len(data)} bytes)")
    found = verdict(info, user, name)
    if found["status"] != "ready":
        print(f"clip {name}: {found['status']}: {found.get('reason')}", file=sys.stderr)
        return 1
    print(f"clip {name} is ready: {found['durationSeconds']:.1f} s, {found['width']}×{found['height']}")
    print(f"publish it in the console ({info['console']}) as {user}")
    return 0
