import json

from autopost.api.openapi import document
from devstack.template import ROOT, load_template


def test_the_api_serves_its_openapi_document_without_a_token(harness):
    response = harness.api("GET", "/openapi.json", user=None)
    assert response.status == 200
    assert response.body["info"]["title"] == "autopost"
    assert "/clips/{clip_id}/publications" in response.body["paths"]


def test_the_committed_copy_is_current():
    committed = json.loads((ROOT / "docs/openapi.json").read_text())
    assert committed == document(), "run `make openapi` and commit docs/openapi.json"


def test_every_documented_route_is_declared_in_the_template():
    paths = document()["paths"]
    routes = set()
    for path, operations in paths.items():
        for method in operations:
            routes.add(
                (
                    method.upper(),
                    path.replace("{clip_id}", "{clipId}")
                    .replace("{publication_id}", "{publicationId}")
                    .replace("{webhook_id}", "{webhookId}"),
                )
            )
    events = load_template()["Resources"]["ApiFunction"]["Properties"]["Events"].values()
    declared = {
        (e["Properties"]["Method"], e["Properties"]["Path"]) for e in events if e["Type"] == "HttpApi"
    }
    assert routes == declared - {("GET", "/openapi.json")}
