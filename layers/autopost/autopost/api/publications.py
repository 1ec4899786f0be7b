"""/clips/{clipId}/publications and /publications: publish, list, read, cancel, retry."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Header, Query

from autopost.api import context, idempotency
from autopost.api.schemas.publications import (
    STATS_UNAVAILABLE,
    PublicationEvents,
    PublicationList,
    PublicationOut,
    PublishBody,
    StatsPoint,
    StatsSeries,
)
from autopost.domain.models import PublishDraft
from autopost.domain.platforms import Platform, PublishFormat
from autopost.domain.statuses import PublicationStatus

router = Router()


IDEMPOTENCY_KEY = Header(
    alias="Idempotency-Key",
    max_length=255,
    description="Send the same key again (a lost answer, a double submit): the first answer comes back",
)


@router.post("/clips/<clip_id>/publications", summary="Publish a clip now or at a set time")
def publish(
    clip_id: str, body: PublishBody, idempotency_key: Annotated[str | None, IDEMPOTENCY_KEY] = None
) -> tuple[PublicationList, int]:
    caller = context.caller_of(router.current_event)
    draft = PublishDraft(
        platforms=body.platforms,
        title=body.title,
        description=body.description,
        scheduled_at=body.scheduled_at,
        vk_format=body.vk.format if body.vk else PublishFormat.CLIP,
        repost=body.repost,
    )

    def run() -> tuple[PublicationList, int]:
        created = context.publishing().publish(caller, clip_id, draft)
        return PublicationList(items=[PublicationOut.of(p) for p in created]), 201

    return idempotency.once(router, caller, f"publish:{clip_id}", body, PublicationList, run)


@router.get("/publications", summary="The caller's publications, newest first")
def list_publications(
    clip_id: Annotated[str | None, Query(alias="clipId", max_length=128)] = None,
    status: Annotated[PublicationStatus | None, Query()] = None,
    platform: Annotated[Platform | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> PublicationList:
    caller = context.caller_of(router.current_event)
    items, next_cursor = context.publishing().list(
        caller, clip_id=clip_id, status=status, platform=platform, limit=limit, cursor=cursor
    )
    return PublicationList(items=[PublicationOut.of(p) for p in items], next_cursor=next_cursor)


@router.get("/publications/<publication_id>", summary="One publication")
def get_publication(publication_id: str) -> PublicationOut:
    caller = context.caller_of(router.current_event)
    return PublicationOut.of(context.publishing().get(caller, publication_id))


@router.get("/publications/<publication_id>/events", summary="What happened to a publication, in order")
def publication_events(publication_id: str) -> PublicationEvents:
    caller = context.caller_of(router.current_event)
    context.publishing().get(caller, publication_id)  # the caller's, or 404
    return PublicationEvents(items=[event.view() for event in context.history().events(publication_id)])


@router.get("/publications/<publication_id>/stats", summary="A publication's statistics over time")
def publication_stats(publication_id: str) -> StatsSeries:
    caller = context.caller_of(router.current_event)
    publication = context.publishing().get(caller, publication_id)
    if publication.platform is Platform.TELEGRAM:
        return StatsSeries(available=False, message=STATS_UNAVAILABLE, items=[])
    samples = context.history().samples(publication_id)
    return StatsSeries(available=True, items=[StatsPoint(at=at, **figures) for at, figures in samples])


@router.post("/publications/<publication_id>/cancel", summary="Cancel a scheduled publication")
def cancel_publication(
    publication_id: str, idempotency_key: Annotated[str | None, IDEMPOTENCY_KEY] = None
) -> PublicationOut:
    caller = context.caller_of(router.current_event)

    def run() -> tuple[PublicationOut, int]:
        return PublicationOut.of(context.publishing().cancel(caller, publication_id)), 200

    answer, _ = idempotency.once(router, caller, f"cancel:{publication_id}", None, PublicationOut, run)
    return answer


@router.post("/publications/<publication_id>/retry", summary="Publish a failed publication again")
def retry_publication(
    publication_id: str, idempotency_key: Annotated[str | None, IDEMPOTENCY_KEY] = None
) -> PublicationOut:
    caller = context.caller_of(router.current_event)

    def run() -> tuple[PublicationOut, int]:
        return PublicationOut.of(context.publishing().retry(caller, publication_id)), 200

    answer, _ = idempotency.once(router, caller, f"retry:{publication_id}", None, PublicationOut, run)
    return answer
