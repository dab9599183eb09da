"""The SAM template passes cfn-lint (the same check `sam validate --lint` runs) and keeps its
hardening: least-privilege logs, full source stream ARN, dead-letter queue with an alarm, no
log loops between the deployment's handlers."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


class _Loader(yaml.SafeLoader):
    pass


def _tag(loader, suffix, node):
    name = "Ref" if suffix == "Ref" else ("Condition" if suffix == "Condition" else f"Fn::{suffix}")
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_Loader.add_multi_constructor("!", _tag)


@pytest.fixture(scope="module")
def template():
    return yaml.load((ROOT / "sam-template.yaml").read_text(), Loader=_Loader)  # noqa: S506 - safe loader subclass


def resources(template, kind):
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_sam_template_passes_cfn_lint():
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    res = subprocess.run(
        [str(cfn_lint), str(ROOT / "sam-template.yaml")], capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stdout + res.stderr


def test_every_function_writes_only_to_its_own_log_group(template):
    text = (ROOT / "sam-template.yaml").read_text()
    assert "AWSLambdaBasicExecutionRole" not in text and '"logs:*"' not in text and "logs:*" not in text
    for name, fn in resources(template, "AWS::Serverless::Function").items():
        props = fn["Properties"]
        role = template["Resources"][props["Role"]["Fn::GetAtt"].split(".")[0]]  # own role: SAM adds none
        suffix = props["FunctionName"]["Fn::Sub"].removeprefix("${NamePrefix}")
        log_group = template["Resources"][props["LoggingConfig"]["LogGroup"]["Ref"]]
        assert log_group["Properties"]["LogGroupName"]["Fn::Sub"] == f"/aws/lambda/${{NamePrefix}}{suffix}"
        statements = [
            s
            for p in role["Properties"]["Policies"]
            if "PolicyDocument" in p
            for s in p["PolicyDocument"]["Statement"]
            if any(a.startswith("logs:") for a in _list(s["Action"]))
        ]
        assert len(statements) == 1, name
        assert sorted(_list(statements[0]["Action"])) == ["logs:CreateLogStream", "logs:PutLogEvents"]
        assert statements[0]["Resource"]["Fn::Sub"].endswith(
            f":log-group:/aws/lambda/${{NamePrefix}}{suffix}:*"
        )


def test_no_select_on_a_possibly_empty_parameter_and_the_source_stream_is_used_whole(template):
    assert "!Select" not in (ROOT / "sam-template.yaml").read_text() and "Fn::Select" not in str(template)
    params = template["Parameters"]
    assert params["SourceStartingPosition"]["Default"] == "LATEST"
    for mapping in resources(template, "AWS::Lambda::EventSourceMapping").values():
        props = mapping["Properties"]
        assert props["EventSourceArn"] == {"Ref": "SourceStreamArn"}
        assert props["StartingPosition"] == {"Ref": "SourceStartingPosition"}
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    for role in ("ForwardRole", "LambdaMetricsRole"):
        policies = template["Resources"][role]["Properties"]["Policies"]
        conditional = [p["Fn::If"] for p in policies if "Fn::If" in p]
        by_condition = {c: doc for c, doc, _ in conditional}
        (source,) = by_condition["HasSourceStream"]["PolicyDocument"]["Statement"]
        assert "kinesis:ListShards" in source["Action"] and source["Resource"] == {"Ref": "SourceStreamArn"}
        (key,) = by_condition["HasSourceKey"]["PolicyDocument"]["Statement"]
        assert key["Action"] == "kms:Decrypt"


def test_handlers_skip_every_handler_log_group_and_the_account_policy_leaves_them_out(template):
    names = sorted(
        fn["Properties"]["FunctionName"]["Fn::Sub"]
        for fn in resources(template, "AWS::Serverless::Function").values()
    )
    groups = [f"/aws/lambda/{n}" for n in names]
    skip = template["Globals"]["Function"]["Environment"]["Variables"]["SKIP_LOG_GROUPS"]["Fn::Sub"]
    assert sorted(skip.split(",")) == groups
    policy = template["Resources"]["AccountSubscriptionPolicy"]["Properties"]
    excluded = re.fullmatch(r"LogGroupName NOT IN \[(.*)\]", policy["SelectionCriteria"]["Fn::Sub"]).group(1)
    assert sorted(x.strip().strip('"') for x in excluded.split(",")) == groups
    assert policy["PolicyType"] == "SUBSCRIPTION_FILTER_POLICY"


def test_dead_letter_queue_gets_the_data_and_raises_an_alarm(template):
    for name, fn in resources(template, "AWS::Serverless::Function").items():
        env = fn["Properties"].get("Environment", {}).get("Variables", {})
        if name != "FirehoseTransformFunction":  # Firehose keeps its failures in its error output
            assert env["DEAD_LETTER_QUEUE_URL"] == {"Ref": "FailureQueue"}, name
        assert fn["Properties"]["ReservedConcurrentExecutions"]["Fn::If"][0] == "HasReservedConcurrency"
    alarm = template["Resources"]["FailureQueueAlarm"]
    assert alarm["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Properties"]["Dimensions"][0]["Value"] == {"Fn::GetAtt": "FailureQueue.QueueName"}
    assert template["Resources"]["FailureQueue"]["Properties"]["MaximumMessageSize"] == 262144


def test_memory_leaves_a_decode_cap_that_holds_real_payloads(template):
    from logstream.decode import default_max_size

    memory = template["Parameters"]["FunctionMemorySize"]["Default"]
    cap = default_max_size({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory)})
    assert cap >= 64 * 1024 * 1024  # a 1 MiB Kinesis record of logs expands 10-20x: far below this
    assert 3 * cap + 64 * 1024 * 1024 <= memory * 1024 * 1024  # one payload's peak fits in memory


def _list(value):
    return value if isinstance(value, list) else [value]
