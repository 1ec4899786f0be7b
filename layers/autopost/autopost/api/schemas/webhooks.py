"""Webhook endpoints and their deliveries."""

from __future__ import annotations

from pydantic import (
    Field,
    field_validator,
)
from pydantic_core import PydanticCustomError

from autopost.api.schemas.base import (
    ApiModel,
    InputModel,
)
from autopost.domain.clock import Timestamp
from autopost.domain.history import EventType
from autopost.domain.webhooks import Delivery, Endpoint


class WebhookBody(InputModel):
    url: str = Field(
        min_length=9, max_length=2048, description="https:// only; a public address (not a private network)"
    )
    event_types: list[EventType] | None = Field(
        default=None,
        min_length=1,
        max_length=len(EventType),
        description="The events to receive; omitted: all of them",
    )

    @field_validator("event_types")
    @classmethod
    def _unique_types(cls, value: list[EventType] | None) -> list[EventType] | None:
        if value is not None and len(set(value)) != len(value):
            raise PydanticCustomError("duplicate_event_types", "event types must not repeat")
        return value


class WebhookOut(ApiModel):
    id: str
    url: str
    event_types: list[str] = Field(description="The events it receives (every type when created without)")
    created_at: Timestamp

    @classmethod
    def of(cls, endpoint: Endpoint) -> WebhookOut:
        return cls(
            id=endpoint.endpoint_id,
            url=endpoint.url,
            event_types=list(endpoint.event_types or (t.value for t in EventType)),
            created_at=endpoint.created_at,
        )


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(
        description="whsec_…: verifies the webhook-signature header (Standard Webhooks). Shown only now"
    )


class WebhookList(ApiModel):
    items: list[WebhookOut]


class DeliveryOut(ApiModel):
    event_id: str = Field(description="The webhook-id header: the same for every attempt of an event")
    type: str
    at: Timestamp
    attempt: int
    status_code: int | None = Field(description="The receiver's HTTP status; null if none came")
    ok: bool
    error: str | None = Field(description="Why it failed, or the start of the receiver's answer")
    publication_id: str | None = Field(default=None, description="The publication the event is about")
    clip_id: str | None = Field(default=None, description="Its clip")
    platform: str | None = Field(default=None, description="Its platform")

    @classmethod
    def of(cls, delivery: Delivery) -> DeliveryOut:
        return cls(
            event_id=delivery.event_id,
            type=delivery.type,
            at=delivery.at,
            attempt=delivery.attempt,
            status_code=delivery.status_code,
            ok=delivery.ok,
            error=delivery.error,
            publication_id=delivery.publication_id,
            clip_id=delivery.clip_id,
            platform=delivery.platform,
        )


class DeliveryList(ApiModel):
    items: list[DeliveryOut] = Field(description="The latest attempts, newest first")
