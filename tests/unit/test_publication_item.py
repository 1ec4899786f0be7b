"""The publication item's one codec (autopost.domain.publication_item) against the table's
record class (storage/tables.py): a field added to one and not the other fails here."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from autopost.domain.models import Publication
from autopost.domain.platforms import Platform
from autopost.domain.publication_item import COORDINATION, NUMBERS, TIMES, item_of, publication_of
from autopost.domain.statuses import PublicationStatus
from autopost.infra.settings import Settings
from autopost.storage.tables import records


@pytest.fixture(scope="module")
def record_attributes():
    settings = Settings(
        CLIPS_TABLE="c", PUBLICATIONS_TABLE="p", CONNECTIONS_TABLE="n", CONTROL_TABLE="x", CLIPS_BUCKET="b"
    )
    return set(records(settings).publication.get_attributes())


def test_every_attribute_of_the_item_is_the_publications_or_named_coordination(record_attributes):
    assert record_attributes - COORDINATION == set(Publication.model_fields)
    assert record_attributes >= COORDINATION
    assert set(Publication.model_fields) >= (TIMES | NUMBERS)


def test_a_new_item_reads_back_as_the_publication_it_was_made_from():
    publication = Publication(
        publication_id="p-1",
        user_id="user-1",
        clip_id="clip-1",
        clip_key="clips/user-1/clip-1.mp4",
        platform=Platform.VK,
        status=PublicationStatus.SCHEDULED,
        title="Закат",
        description="над Волгой",
        scheduled_at=datetime(2026, 12, 9, 9, tzinfo=UTC),
        created_at=datetime(2026, 12, 8, 9, 0, 0, 123000, tzinfo=UTC),
        updated_at=datetime(2026, 12, 8, 9, 0, 0, 123000, tzinfo=UTC),
        execution_name="p-1",
        format="clip",
    )
    item = {"publication_id": "p-1", **item_of(publication)}
    assert publication_of(item) == publication
    assert set(item) <= set(Publication.model_fields)


def test_a_stream_image_decodes_numbers_maps_times_and_leaves_coordination_out():
    """What the DynamoDB stream gives after deserializing: Decimal numbers, a dict for a map,
    the state machine's times with a Z and no milliseconds."""
    image = {
        "publication_id": "p-1",
        "user_id": "user-1",
        "clip_id": "clip-1",
        "clip_key": "clips/user-1/clip-1.mp4",
        "platform": "rutube",
        "status": "published",
        "title": "Закат",
        "created_at": "2026-12-08T09:00:00.000Z",
        "updated_at": "2026-12-08T09:05:00Z",
        "attempt": Decimal(2),
        "attempt_errors": Decimal(1),
        "execution_name": "p-1-retry-2",
        "upload_checkpoint": '{"video_id": "abc"}',
        "stats": {"views": Decimal(77), "likes": None},
        "attempt_owner": "worker-1",
        "stats_shard": "rutube#3",
    }
    publication = publication_of(image)
    assert publication.attempt == 2 and publication.attempt_errors == 1
    assert publication.updated_at == datetime(2026, 12, 8, 9, 5, tzinfo=UTC)
    assert publication.upload_checkpoint == {"video_id": "abc"}
    assert publication.stats == {"views": 77, "likes": None}
    assert publication.description == ""
