"""template.yaml watches what fails silently: every dead-letter queue and every publish
execution that fails or times out raises an alarm to the operator's topic, and the dashboard
charts only metrics the code emits."""

from __future__ import annotations

import json
import re

import pytest

from devstack.template import ROOT, load_template


@pytest.fixture(scope="module")
def resources():
    return load_template()["Resources"]


def alarms(resources):
    return {lid: r["Properties"] for lid, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}


def test_every_dead_letter_queue_raises_an_alarm(resources):
    dead_letter_queues = {
        r["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for r in resources.values()
        if r["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in r["Properties"]
    }
    watched = {
        a["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for a in alarms(resources).values()
        if a.get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and a["Threshold"] == 0
        and a["ComparisonOperator"] == "GreaterThanThreshold"
    }
    assert len(dead_letter_queues) == 7
    assert dead_letter_queues <= watched


def test_every_event_rule_target_keeps_what_it_cannot_deliver_and_raises_an_alarm(resources):
    targets = [
        target
        for r in resources.values()
        if r["Type"] == "AWS::Events::Rule"
        for target in r["Properties"]["Targets"]
    ]
    watched = {
        a["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for a in alarms(resources).values()
        if a.get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and a["Threshold"] == 0
        and a["ComparisonOperator"] == "GreaterThanThreshold"
        and a["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    }
    assert targets
    for target in targets:
        assert "RetryPolicy" in target
        assert target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0] in watched


def test_a_stream_records_failure_destination_raises_an_alarm(resources):
    destinations = {
        event["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
        for r in resources.values()
        if r["Type"] == "AWS::Serverless::Function"
        for event in r["Properties"].get("Events", {}).values()
        if event["Type"] == "DynamoDB"
    }
    watched = {
        a["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for a in alarms(resources).values()
        if a.get("MetricName") == "ApproximateNumberOfMessagesVisible"
    }
    assert destinations == {"PublicationEventsDeadLetterQueue"}
    assert destinations <= watched


def test_each_platforms_failed_publication_rate_raises_an_alarm(resources):
    rates = {}
    for alarm in alarms(resources).values():
        stats = [m for m in alarm.get("Metrics", []) if "MetricStat" in m]
        if not stats or stats[0]["MetricStat"]["Metric"]["MetricName"] != "PublicationsFinished":
            continue
        dimensions = [{d["Name"]: d["Value"] for d in m["MetricStat"]["Metric"]["Dimensions"]} for m in stats]
        (platform,) = {d["platform"] for d in dimensions}
        assert sorted(d["outcome"] for d in dimensions) == ["failed", "published"]
        (expression,) = [m["Expression"] for m in alarm["Metrics"] if m.get("ReturnData")]
        assert "100 * FILL(failed, 0) / (FILL(failed, 0) + FILL(published, 0))" in expression
        rates[platform] = alarm["Threshold"]
    assert rates == {"vk": 20, "rutube": 20, "telegram": 20, "dzen": 20}


def test_a_failed_or_timed_out_execution_raises_an_alarm(resources):
    alarm = alarms(resources)["PublishExecutionsFailingAlarm"]
    watched = {
        m["MetricStat"]["Metric"]["MetricName"]
        for m in alarm["Metrics"]
        if "MetricStat" in m
        and m["MetricStat"]["Metric"]["Dimensions"][0]["Value"] == {"Ref": "PublishStateMachine"}
    }
    assert watched == {"ExecutionsFailed", "ExecutionsTimedOut"}
    (expression,) = [m["Expression"] for m in alarm["Metrics"] if m.get("ReturnData")]
    assert expression == "failed + timedOut"


def test_every_alarm_notifies_the_operator(resources):
    assert resources["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    for name, alarm in alarms(resources).items():
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        assert alarm["TreatMissingData"] == "notBreaching", name


def test_the_dashboard_charts_metrics_the_code_emits(resources):
    body = json.loads(resources["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"])
    searched = {
        name
        for widget in body["widgets"]
        for row in widget["properties"]["metrics"]
        for item in row
        if isinstance(item, dict) and "expression" in item
        for name in re.findall(r'MetricName="(\w+)"', item["expression"])
    }
    source = "\n".join(p.read_text() for p in (ROOT / "layers" / "autopost" / "autopost").rglob("*.py"))
    emitted = set(re.findall(r'(?:add_metric|single_metric)\(\s*name="(\w+)"', source))
    assert searched and searched <= emitted, searched - emitted
    assert re.search(r'add_dimension\(name="platform"', source)  # SEARCH asks for it
