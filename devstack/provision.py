"""Creates template.yaml's resources on moto (in-process or a moto server).

Every resource type in the template is either created here, or recorded for in-process
wiring (functions, the HTTP API, the layer), or named as not enforced locally (IAM-only
resources). Any other type is an error that names it: nothing is skipped in silence.
"""

from __future__ import annotations

import functools
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

from devstack.template import ROOT, Resolver, TemplateError, load_template, substitute_definition

ACCOUNT_ID = "123456789012"
LOCAL_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/autopost-local"
# Resources that only grant permissions: moto does not enforce IAM, so nothing to create.
NOT_ENFORCED_LOCALLY = {
    "AWS::SQS::QueuePolicy",
    "AWS::S3::BucketPolicy",
    "AWS::Events::EventBusPolicy",
    "AWS::IAM::User",
}
# Resources whose job the local stack does itself: the gateway serves web/ at /console/,
# with the response headers policy's security headers.
SERVED_BY_THE_LOCAL_GATEWAY = {
    "AWS::CloudFront::Distribution",
    "AWS::CloudFront::OriginAccessControl",
    "AWS::CloudFront::ResponseHeadersPolicy",
}


@dataclass
class FunctionSpec:
    logical_id: str
    code_uri: str
    handler: str
    timeout: int
    environment: dict[str, str]
    events: dict[str, dict[str, Any]]
    memory_mb: int = 128

    @property
    def module(self) -> str:
        """The handler's import path from the repository root, e.g. functions.api.handler."""
        package = self.code_uri.strip("/").replace("/", ".")
        module, _, _ = self.handler.rpartition(".")
        return f"{package}.{module}"

    @property
    def function_name(self) -> str:
        return self.handler.rpartition(".")[2]


@dataclass
class Stack:
    name: str
    region: str
    template: dict[str, Any]
    resolver: Resolver
    physical: dict[str, Any] = field(default_factory=dict)
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    http_apis: dict[str, dict[str, Any]] = field(default_factory=dict)

    def console_headers(self) -> dict[str, str]:
        """The security headers the template's response headers policy adds to the console."""
        headers: dict[str, str] = {}
        for resource in self.template["Resources"].values():
            if resource["Type"] != "AWS::CloudFront::ResponseHeadersPolicy":
                continue
            config = self.resolver.resolve(resource["Properties"]["ResponseHeadersPolicyConfig"])
            security = config.get("SecurityHeadersConfig", {})
            if "ContentSecurityPolicy" in security:
                headers["Content-Security-Policy"] = " ".join(
                    security["ContentSecurityPolicy"]["ContentSecurityPolicy"].split()
                )
            if "ContentTypeOptions" in security:
                headers["X-Content-Type-Options"] = "nosniff"
            if "FrameOptions" in security:
                headers["X-Frame-Options"] = security["FrameOptions"]["FrameOption"]
            if "ReferrerPolicy" in security:
                headers["Referrer-Policy"] = security["ReferrerPolicy"]["ReferrerPolicy"]
        return headers

    def ref(self, logical_id: str) -> Any:
        return self.physical[logical_id]

    def attribute(self, logical_id: str, name: str) -> Any:
        return self.resolver.attributes[(logical_id, name)]


def _parameters(template: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, spec in template.get("Parameters", {}).items():
        value = overrides.get(name, spec.get("Default"))
        if value is None:
            raise TemplateError(f"parameter {name} has no default: pass it to the local stack")
        if spec["Type"] == "CommaDelimitedList" and isinstance(value, str):
            value = [part.strip() for part in value.split(",")]
        values[name] = value
    return values


def provision(
    *,
    stack_name: str,
    region: str,
    endpoint_url: str | None = None,
    parameters: dict[str, Any] | None = None,
    definition_overrides: dict[str, Any] | None = None,
) -> Stack:
    """Create every resource; `definition_overrides` replaces DefinitionSubstitutions values
    (tests shorten the task timeouts this way, running the very same ASL file)."""
    template = load_template()
    resolver = Resolver(
        parameters=_parameters(template, parameters or {}),
        conditions=template.get("Conditions", {}),
        pseudo={
            "AWS::Region": region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::StackName": stack_name,
            "AWS::URLSuffix": "amazonaws.com",
        },
    )
    stack = Stack(name=stack_name, region=region, template=template, resolver=resolver)
    session = boto3.session.Session(region_name=region)

    @functools.cache
    def make(service: str) -> Any:  # one client a service: creating one takes ~10 ms
        return session.client(service, endpoint_url=endpoint_url)

    creators: dict[str, Callable[[str, dict[str, Any]], None]] = {
        "AWS::DynamoDB::Table": lambda lid, props: _table(stack, make("dynamodb"), lid, props),
        "AWS::SQS::Queue": lambda lid, props: _queue(stack, make("sqs"), lid, props),
        "AWS::S3::Bucket": lambda lid, props: _bucket(stack, make("s3"), lid, props),
        "AWS::Serverless::StateMachine": lambda lid, props: _state_machine(
            stack, make("stepfunctions"), lid, props, definition_overrides or {}
        ),
        "AWS::SecretsManager::Secret": lambda lid, props: _secret(stack, make("secretsmanager"), lid, props),
        "AWS::Logs::LogGroup": lambda lid, props: _log_group(stack, make("logs"), lid, props),
        "AWS::SNS::Topic": lambda lid, props: _topic(stack, make("sns"), lid, props),
        "AWS::Events::EventBus": lambda lid, props: _event_bus(stack, make("events"), lid, props),
        "AWS::Events::Rule": lambda lid, props: _rule(stack, make("events"), lid, props),
        "AWS::CloudWatch::Alarm": lambda lid, props: _alarm(stack, make("cloudwatch"), lid, props),
        "AWS::CloudWatch::Dashboard": lambda lid, props: _dashboard(stack, make("cloudwatch"), lid, props),
        "AWS::Serverless::LayerVersion": lambda lid, props: _record(stack, lid, f"{stack_name}-{lid}"),
        "AWS::Serverless::HttpApi": lambda lid, props: _http_api(stack, lid, props),
        "AWS::Serverless::Function": lambda lid, props: _function(stack, lid, props),
    }
    pending = dict(template["Resources"])
    while pending:
        progressed = False
        for logical_id, resource in list(pending.items()):
            kind = resource["Type"]
            if kind in NOT_ENFORCED_LOCALLY or kind in SERVED_BY_THE_LOCAL_GATEWAY:
                _record(
                    stack, logical_id, f"{stack_name}-{logical_id}", Id=logical_id, DomainName="localhost"
                )
                del pending[logical_id]
                progressed = True
                continue
            if kind not in creators:
                raise TemplateError(f"{logical_id}: resource type {kind} is not supported by the local stack")
            try:
                creators[kind](logical_id, resource.get("Properties", {}))
            except TemplateError as exc:
                if "not (yet) known" not in str(exc):
                    raise
                continue
            del pending[logical_id]
            progressed = True
        if not progressed:
            raise TemplateError(f"cannot resolve references among: {', '.join(sorted(pending))}")
    return stack


def _record(stack: Stack, logical_id: str, ref: Any, **attributes: Any) -> None:
    stack.physical[logical_id] = ref
    stack.resolver.refs[logical_id] = ref
    for name, value in attributes.items():
        stack.resolver.attributes[(logical_id, name)] = value


def _table(stack: Stack, dynamodb: Any, logical_id: str, props: dict[str, Any]) -> None:
    props = stack.resolver.resolve(props)
    name = f"{stack.name}-{logical_id}"
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    stream = props.get("StreamSpecification")
    if stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    created = dynamodb.create_table(**request)["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
        )
    arn = f"arn:aws:dynamodb:{stack.region}:{ACCOUNT_ID}:table/{name}"
    extra = {"StreamArn": created["LatestStreamArn"]} if stream else {}
    _record(stack, logical_id, name, Arn=arn, **extra)


def _queue(stack: Stack, sqs: Any, logical_id: str, props: dict[str, Any]) -> None:
    props = stack.resolver.resolve(props)
    name = f"{stack.name}-{logical_id}"
    attributes: dict[str, str] = {
        key: str(props[key])
        for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds")
        if key in props
    }
    if "RedrivePolicy" in props:
        attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    _record(stack, logical_id, url, Arn=arn, QueueName=name, QueueUrl=url)


def _bucket(stack: Stack, s3: Any, logical_id: str, props: dict[str, Any]) -> None:
    props = stack.resolver.resolve(props)
    name = f"{stack.name}-{logical_id}".lower()
    if stack.region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": stack.region})
    queues = []
    for config in props.get("NotificationConfiguration", {}).get("QueueConfigurations", []):
        entry: dict[str, Any] = {"QueueArn": config["Queue"], "Events": [config["Event"]]}
        rules = config.get("Filter", {}).get("S3Key", {}).get("Rules")
        if rules:
            entry["Filter"] = {"Key": {"FilterRules": rules}}
        queues.append(entry)
    if queues:
        s3.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration={"QueueConfigurations": queues}
        )
    _record(
        stack,
        logical_id,
        name,
        Arn=f"arn:aws:s3:::{name}",
        RegionalDomainName=f"{name}.s3.{stack.region}.amazonaws.com",
    )


def _log_group(stack: Stack, logs: Any, logical_id: str, props: dict[str, Any]) -> None:
    props = stack.resolver.resolve(props)
    name = f"/{stack.name}/{logical_id}"
    logs.create_log_group(logGroupName=name)
    if "RetentionInDays" in props:
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
    _record(stack, logical_id, name, Arn=f"arn:aws:logs:{stack.region}:{ACCOUNT_ID}:log-group:{name}")


def _topic(stack: Stack, sns: Any, logical_id: str, props: dict[str, Any]) -> None:
    props = stack.resolver.resolve(props)
    attributes = {"KmsMasterKeyId": props["KmsMasterKeyId"]} if "KmsMasterKeyId" in props else {}
    arn = sns.create_topic(Name=f"{stack.name}-{logical_id}", Attributes=attributes)["TopicArn"]
    _record(stack, logical_id, arn, TopicArn=arn, TopicName=f"{stack.name}-{logical_id}")


def _event_bus(stack: Stack, events: Any, logical_id: str, props: dict[str, Any]) -> None:
    props = stack.resolver.resolve(props)
    name = props.get("Name") or f"{stack.name}-{logical_id}"
    arn = events.create_event_bus(Name=name)["EventBusArn"]
    _record(stack, logical_id, name, Arn=arn, Name=name)


def _rule(stack: Stack, events: Any, logical_id: str, props: dict[str, Any]) -> None:
    """moto's EventBridge matches the pattern and delivers to SQS targets itself, as AWS does."""
    props = stack.resolver.resolve(props)
    name = f"{stack.name}-{logical_id}"
    bus = props.get("EventBusName", "default")
    arn = events.put_rule(
        Name=name,
        EventBusName=bus,
        EventPattern=json.dumps(props["EventPattern"]),
        State=props.get("State", "ENABLED"),
    )["RuleArn"]
    # A target's dead-letter queue and retry policy as the template declares them (moto keeps
    # them; it does not retry or dead-letter itself).
    kept = ("Id", "Arn", "DeadLetterConfig", "RetryPolicy")
    targets = [{key: t[key] for key in kept if key in t} for t in props.get("Targets", [])]
    if targets:
        events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
    _record(stack, logical_id, name, Arn=arn)


_ALARM_PROPERTIES = (
    "AlarmDescription",
    "Namespace",
    "MetricName",
    "Dimensions",
    "Statistic",
    "Period",
    "EvaluationPeriods",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "AlarmActions",
    "Metrics",
)


def _alarm(stack: Stack, cloudwatch: Any, logical_id: str, props: dict[str, Any]) -> None:
    """Created as CloudFormation would, so the alarms can be read (and their metrics checked)
    on the local stack; nothing locally publishes AWS/SQS or AWS/States metrics to fire them."""
    props = stack.resolver.resolve(props)
    name = f"{stack.name}-{logical_id}"
    cloudwatch.put_metric_alarm(
        AlarmName=name, **{key: props[key] for key in _ALARM_PROPERTIES if key in props}
    )
    _record(stack, logical_id, name, Arn=f"arn:aws:cloudwatch:{stack.region}:{ACCOUNT_ID}:alarm:{name}")


def _dashboard(stack: Stack, cloudwatch: Any, logical_id: str, props: dict[str, Any]) -> None:
    props = stack.resolver.resolve(props)
    name = f"{stack.name}-{logical_id}"
    cloudwatch.put_dashboard(DashboardName=name, DashboardBody=props["DashboardBody"])
    _record(stack, logical_id, name)


def _secret(stack: Stack, secretsmanager: Any, logical_id: str, props: dict[str, Any]) -> None:
    props = stack.resolver.resolve(props)
    if "SecretString" in props:
        value = str(props["SecretString"])
    else:
        spec = props.get("GenerateSecretString", {})
        value = secrets.token_urlsafe(int(spec.get("PasswordLength", 32)))[
            : int(spec.get("PasswordLength", 32))
        ]
    arn = secretsmanager.create_secret(Name=f"{stack.name}-{logical_id}", SecretString=value)["ARN"]
    _record(stack, logical_id, arn, Id=arn)


def _state_machine(
    stack: Stack, sfn: Any, logical_id: str, props: dict[str, Any], overrides: dict[str, Any]
) -> None:
    substitutions = {**stack.resolver.resolve(props.get("DefinitionSubstitutions", {})), **overrides}
    text = (ROOT / props["DefinitionUri"]).read_text(encoding="utf-8")
    definition = substitute_definition(text, substitutions)
    json.loads(definition)  # a broken substitution fails here, naming no AWS error
    name = f"{stack.name}-{logical_id}"
    arn = sfn.create_state_machine(
        name=name, definition=definition, roleArn=LOCAL_ROLE, type=props.get("Type", "STANDARD")
    )["stateMachineArn"]
    _record(stack, logical_id, arn, Name=name, Arn=arn)


def _http_api(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    stack.http_apis[logical_id] = props
    _record(stack, logical_id, f"{stack.name}-{logical_id}")


def _function(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    globals_ = stack.template.get("Globals", {}).get("Function", {})
    variables = {
        **globals_.get("Environment", {}).get("Variables", {}),
        **props.get("Environment", {}).get("Variables", {}),
    }
    environment = {key: str(value) for key, value in stack.resolver.resolve(variables).items()}
    spec = FunctionSpec(
        logical_id=logical_id,
        code_uri=props["CodeUri"],
        handler=props["Handler"],
        timeout=int(props.get("Timeout", globals_.get("Timeout", 3))),
        memory_mb=int(props.get("MemorySize", globals_.get("MemorySize", 128))),
        environment=environment,
        events=props.get("Events", {}),
    )
    stack.functions[logical_id] = spec
    _record(stack, logical_id, f"{stack.name}-{logical_id}", Arn=f"arn:aws:lambda:local:{logical_id}")
