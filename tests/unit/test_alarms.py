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
    assert len(dead_letter_queues) == 6
    assert dead_letter_queues <= watched


def test_a_failed_or_timed_out_execution_raises_an_alarm(resources):
    (alarm,) = [a for a in alarms(resources).values() if "Metrics" in a]
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
