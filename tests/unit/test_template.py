"""template.yaml and the code agree: tables vs PynamoDB records, state machine errors,
pinned dependencies."""

import json
import re
import tomllib

import pytest
from pynamodb.attributes import TTLAttribute

from autopost.domain.task_errors import TaskError
from autopost.infra.settings import Settings
from autopost.storage.tables import records
from devstack.template import ROOT, load_template

TABLES = {
    "ClipsTable": "clip",
    "PublicationsTable": "publication",
    "ConnectionsTable": "connection",
    "ControlTable": "control",
}


@pytest.fixture(scope="module")
def template():
    return load_template()


@pytest.fixture(scope="module")
def record_classes():
    return records(
        Settings(
            CLIPS_TABLE="c",
            PUBLICATIONS_TABLE="p",
            CONNECTIONS_TABLE="n",
            CONTROL_TABLE="x",
            CLIPS_BUCKET="b",
        )
    )


def _keys(schema):
    return {entry["KeyType"]: entry["AttributeName"] for entry in schema}


@pytest.mark.parametrize(("logical_id", "record_name"), TABLES.items())
def test_keys_indexes_and_ttl_match(template, record_classes, logical_id, record_name):
    table = template["Resources"][logical_id]["Properties"]
    record = getattr(record_classes, record_name)
    attributes = record.get_attributes()

    hash_key = record._hash_key_attribute().attr_name
    range_attr = record._range_key_attribute()
    expected = {"HASH": hash_key} | ({"RANGE": range_attr.attr_name} if range_attr else {})
    assert _keys(table["KeySchema"]) == expected

    template_indexes = {
        index["IndexName"]: _keys(index["KeySchema"]) for index in table.get("GlobalSecondaryIndexes", [])
    }
    model_indexes = {}
    for index in record._indexes.values():
        keys = {"HASH": None}
        for name, attribute in index.Meta.attributes.items():
            keys["HASH" if attribute.is_hash_key else "RANGE"] = name
        model_indexes[index.Meta.index_name] = keys
    assert template_indexes == model_indexes

    defined = {d["AttributeName"]: d["AttributeType"] for d in table["AttributeDefinitions"]}
    for name, kind in defined.items():
        assert attributes[name].attr_type == kind, name

    ttl_attributes = [name for name, a in attributes.items() if isinstance(a, TTLAttribute)]
    ttl = table.get("TimeToLiveSpecification")
    assert ttl_attributes == ([ttl["AttributeName"]] if ttl else [])


def test_the_state_machine_catches_exactly_the_worker_errors(template):
    definition = (ROOT / "statemachines/publish.asl.json").read_text()
    parsed = json.loads(re.sub(r"\$\{[A-Za-z]+TaskTimeoutSeconds\}", "1", definition))
    caught = set()
    for state in parsed["States"].values():
        for catcher in state.get("Catch", []):
            caught.update(catcher["ErrorEquals"])
    ours = {name for name in caught if not name.startswith(("States.", "DynamoDB."))}
    assert ours == {error.value for error in TaskError}
    assert caught - ours <= {"States.ALL", "States.Timeout", "DynamoDB.ConditionalCheckFailedException"}


def test_every_placeholder_in_the_definition_has_a_substitution(template):
    definition = (ROOT / "statemachines/publish.asl.json").read_text()
    placeholders = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", definition))
    substitutions = template["Resources"]["PublishStateMachine"]["Properties"]["DefinitionSubstitutions"]
    assert placeholders == set(substitutions)


def test_the_layer_pins_the_same_runtime_dependencies_as_the_project():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    layer = [
        line.strip()
        for line in (ROOT / "layers/autopost/requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert sorted(layer) == sorted(project)
    assert all("==" in requirement for requirement in project)


@pytest.mark.parametrize("bucket", ["ClipsBucket", "ConsoleBucket"])
def test_every_bucket_refuses_plain_http(template, bucket):
    policies = [
        r["Properties"]["PolicyDocument"]["Statement"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::S3::BucketPolicy" and r["Properties"]["Bucket"] == {"Ref": bucket}
    ]
    (statements,) = policies
    deny = [s for s in statements if s["Effect"] == "Deny"]
    assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny[0]["Principal"] == "*" and deny[0]["Action"] == "s3:*"


def test_the_api_logs_access_throttles_costly_routes_and_names_one_origin(template):
    api = template["Resources"]["HttpApi"]["Properties"]
    assert "$context.routeKey" in api["AccessLogSettings"]["Format"]
    assert "$context.path" not in api["AccessLogSettings"]["Format"]  # no query strings in logs
    routes = api["RouteSettings"]
    assert "POST /telegram/webhook" in routes
    # The stage throttle is shared by all callers: one client flooding at 20 requests a
    # second (what a review did to POST /publications) takes under 5% of any route, so the
    # per-user budgets bind first and everyone else keeps publishing.
    for route, limits in [("default", api["DefaultRouteSettings"]), *routes.items()]:
        assert 20 / limits["ThrottlingRateLimit"] <= 0.05, route
        assert limits["ThrottlingBurstLimit"] >= limits["ThrottlingRateLimit"], route
    (origin,) = api["CorsConfiguration"]["AllowOrigins"]
    assert "*" not in json.dumps(origin)
    assert template["Parameters"]["ConsoleOrigin"]["Default"] == ""


def test_the_console_is_served_with_a_content_security_policy(template):
    headers = template["Resources"]["ConsoleHeaders"]["Properties"]["ResponseHeadersPolicyConfig"]
    policy = headers["SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    distribution = template["Resources"]["ConsoleDistribution"]["Properties"]["DistributionConfig"]
    assert distribution["DefaultCacheBehavior"]["ResponseHeadersPolicyId"] == {"Ref": "ConsoleHeaders"}


def test_only_the_publication_events_function_may_put_on_the_bus(template):
    """Whatever is put on the bus is signed and sent to users' endpoints: the bus's own
    policy denies PutEvents to every principal but that function's role."""
    resources = template["Resources"]
    (policy,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Events::EventBusPolicy"]
    assert policy["EventBusName"] == {"Ref": "EventBus"}
    statement = policy["Statement"]
    assert (statement["Effect"], statement["Principal"], statement["Action"]) == (
        "Deny",
        "*",
        "events:PutEvents",
    )
    allowed = statement["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
    assert allowed == {"Fn::GetAtt": ["PublicationEventsFunctionRole", "Arn"]}
    # and that role is the only one whose policies name PutEvents on the bus
    putters = [
        lid
        for lid, r in resources.items()
        if r["Type"] == "AWS::Serverless::Function"
        and any(
            "EventBridgePutEventsPolicy" in p
            for p in r["Properties"].get("Policies", [])
            if isinstance(p, dict)
        )
    ]
    assert putters == ["PublicationEventsFunction"]


def test_only_the_api_and_the_webhook_function_read_the_webhook_key_and_it_no_token_key(template):
    """The webhook function calls addresses users choose: it holds the key to webhook
    secrets alone, never the platform tokens' key."""
    readers: dict[str, set[str]] = {}
    for lid, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for policy in resource["Properties"].get("Policies", []):
            if isinstance(policy, dict) and "AWSSecretsManagerGetSecretValuePolicy" in policy:
                secret = policy["AWSSecretsManagerGetSecretValuePolicy"]["SecretArn"]["Ref"]
                readers.setdefault(secret, set()).add(lid)
    assert readers["WebhookSecretKey"] == {"ApiFunction", "WebhookFunction"}
    assert "WebhookFunction" not in readers["TokenEncryptionSecret"]


def test_every_skipped_scan_finding_says_why(template):
    """`make lint` runs checkov on the template; a finding may be skipped only in the
    template, next to the resource, with a reason a reviewer can weigh."""
    skipped = 0
    for lid, resource in template["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            skipped += 1
            assert skip["id"].startswith("CKV_"), lid
            assert len(skip.get("comment", "").split()) >= 6, (lid, skip["id"])
    assert skipped > 0


@pytest.mark.parametrize(
    ("logical_id", "module"),
    [
        ("ApiFunction", "functions.api.handler"),
        ("PublishWorkerFunction", "functions.publish_worker.handler"),
        ("StatsSyncFunction", "functions.stats_sync.handler"),
        ("WebhookFunction", "functions.webhooks.handler"),
        ("PublicationEventsFunction", "functions.publication_events.handler"),
    ],
)
def test_every_function_is_given_the_settings_it_checks_for_at_its_start(template, logical_id, module):
    import importlib

    needs = importlib.import_module(module).NEEDS
    given = set(template["Globals"]["Function"]["Environment"]["Variables"])
    given |= set(template["Resources"][logical_id]["Properties"].get("Environment", {}).get("Variables", {}))
    for name in needs:
        assert Settings.model_fields[name].validation_alias in given, (logical_id, name)
