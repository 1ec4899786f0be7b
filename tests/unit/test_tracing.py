"""autopost.infra.tracing: subsegments reach the daemon as the X-Ray SDK sends them in Lambda
(one UDP datagram each, header line first), under the invocation's trace, without secrets."""

from __future__ import annotations

import json
import socket

import boto3
import pytest
from botocore.client import BaseClient
from botocore.endpoint import Endpoint
from moto import mock_aws

from autopost.infra.tracing import XRayProvider

ROOT = "1-5759e988-bd862e3fe1be46a994272793"
FUNCTION_SEGMENT = "53995c3f42cd8ad8"


@pytest.fixture
def daemon(monkeypatch):
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(2)
    monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", f"127.0.0.1:{receiver.getsockname()[1]}")
    monkeypatch.setenv("_X_AMZN_TRACE_ID", f"Root={ROOT};Parent={FUNCTION_SEGMENT};Sampled=1")

    def documents(count):
        found = []
        for _ in range(count):
            header, _, body = receiver.recv(65536).partition(b"\n")
            assert json.loads(header) == {"format": "json", "version": 1}
            found.append(json.loads(body))
        return found

    yield documents
    receiver.close()


@pytest.fixture
def unpatched_botocore():
    calls, prepare = BaseClient._make_api_call, Endpoint.prepare_request
    yield
    BaseClient._make_api_call, Endpoint.prepare_request = calls, prepare


def test_nested_subsegments_name_their_parents_and_the_trace(daemon):
    provider = XRayProvider()
    with provider.in_subsegment("## lambda_handler") as outer:
        provider.put_annotation("ColdStart", True)
        with provider.in_subsegment("## inner"):
            pass
    inner, handler = daemon(2)  # each is sent when it closes
    assert handler["name"] == "## lambda_handler" and inner["name"] == "## inner"
    assert handler["trace_id"] == inner["trace_id"] == ROOT
    assert handler["parent_id"] == FUNCTION_SEGMENT and inner["parent_id"] == outer.id
    assert handler["type"] == "subsegment" and handler["end_time"] >= handler["start_time"]
    assert handler["annotations"] == {"ColdStart": True}


def test_an_error_records_its_type_and_not_its_message(daemon):
    provider = XRayProvider()
    with pytest.raises(RuntimeError), provider.in_subsegment("## lambda_handler"):
        raise RuntimeError("https://api.telegram.org/bot123:SECRET/sendVideo failed")
    (document,) = daemon(1)
    assert document["fault"] is True
    assert document["cause"]["exceptions"][0]["type"] == "RuntimeError"
    assert "SECRET" not in json.dumps(document)


def test_nothing_is_sent_for_an_unsampled_invocation(daemon, monkeypatch):
    monkeypatch.setenv("_X_AMZN_TRACE_ID", f"Root={ROOT};Parent={FUNCTION_SEGMENT};Sampled=0")
    provider = XRayProvider()
    with provider.in_subsegment("## lambda_handler"):
        pass
    with pytest.raises(TimeoutError):
        daemon(1)


def test_aws_calls_become_subsegments_and_pass_the_trace_on(daemon, unpatched_botocore):
    provider = XRayProvider()
    provider.patch(["botocore"])
    sent_headers = []
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="eu-central-1")
        dynamodb.meta.events.register(
            "before-send", lambda request, **_: sent_headers.append(request.headers)
        )
        with provider.in_subsegment("## lambda_handler") as handler:
            with pytest.raises(dynamodb.exceptions.ResourceNotFoundException):
                dynamodb.get_item(TableName="missing", Key={"pk": {"S": "secret-value"}})
            dynamodb.list_tables()
    failed, listed, _ = daemon(3)
    assert failed["name"] == "dynamodb" and failed["namespace"] == "aws"
    assert failed["aws"]["operation"] == "GetItem" and failed["aws"]["table_name"] == "missing"
    assert failed["http"]["response"]["status"] == 400 and failed["error"] is True
    assert failed["parent_id"] == handler.id and listed["aws"]["operation"] == "ListTables"
    assert "secret-value" not in json.dumps(failed)  # keys and items are never recorded
    assert sent_headers[0]["X-Amzn-Trace-Id"] == f"Root={ROOT};Parent={failed['id']};Sampled=1".encode()


def test_only_botocore_can_be_patched():
    with pytest.raises(ValueError, match="httpx"):
        XRayProvider().patch(["botocore", "httpx"])
