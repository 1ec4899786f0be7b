"""Test clips: the local stack's video maker (one place makes videos)."""

from devstack.videos import make_video

__all__ = ["make_video"]
