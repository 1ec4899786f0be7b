"""/clips: the caller's uploaded clips and what validation found."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from autopost.api import context
from autopost.api.schemas.clips import ClipList, ClipOut
from autopost.domain.errors import ClipNotFound

router = Router()


@router.get("/clips", summary="The caller's clips")
def list_clips(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> ClipList:
    caller = context.caller_of(router.current_event)
    items, next_cursor = context.clips().list_for_user(caller.user_id, limit, cursor)
    return ClipList(items=[ClipOut.of(c) for c in items], next_cursor=next_cursor)


@router.get("/clips/<clip_id>", summary="One clip")
def get_clip(clip_id: str) -> ClipOut:
    caller = context.caller_of(router.current_event)
    clip = context.clips().get(caller.user_id, clip_id)
    if clip is None:
        raise ClipNotFound(details={"clipId": clip_id})
    return ClipOut.of(clip)
