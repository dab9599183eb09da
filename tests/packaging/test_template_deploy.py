"""The template deploys into CloudFormation (moto's, over the wire) after the SAM transform
(aws-sam-translator, the library CloudFormation's AWS::Serverless transform runs), with the
defaults and with every optional parameter, and what it creates is read back from the services.

Where moto's CloudFormation falls short of CloudFormation, the test does the missing step
itself, and only that:
- ``Fn::If`` with an ``AWS::NoValue`` branch (optional policies in a role's policy list): moto
  keeps a null in the list; the test evaluates the condition and drops the branch, as
  CloudFormation does.
- A function's ``Architectures``, which moto's CloudFormation does not pass on to Lambda: read
  from the stack's template.
- Resource types moto's CloudFormation does not create (``UNSUPPORTED``): the test takes them
  out of the stack, lets the stack resolve their ``Ref``/``Fn::GetAtt`` values (as outputs), and
  creates them through their own APIs with the template's properties. A supported resource that
  refers to one of them gets its ARN, known in advance from the name the test gives it.
"""

from __future__ import annotations

import ast
import copy
import io
import json
import uuid
import zipfile
from pathlib import Path

import pytest
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

from tests.packaging.conftest import ROOT

ACCOUNT, REGION = "123456789012", "us-east-1"
NOVALUE = {"Ref": "AWS::NoValue"}
UNSUPPORTED = {
    "AWS::KinesisFirehose::DeliveryStream",
    "AWS::Logs::SubscriptionFilter",
    "AWS::Lambda::EventInvokeConfig",
}
INTRINSICS = {"Ref", "Fn::GetAtt", "Fn::Sub", "Fn::Join", "Fn::Select", "Fn::Split"}


# ------------------------------------------------------------- what moto cannot evaluate
def condition_holds(name: str, conditions: dict, params: dict) -> bool:
    def ev(c):
        if "Condition" in c:
            return ev(conditions[c["Condition"]])
        ((fn, args),) = c.items()
        if fn == "Fn::Not":
            return not ev(args[0])
        if fn == "Fn::Equals":
            a, b = (params[x["Ref"]] if isinstance(x, dict) else x for x in args)
            return a == b
        raise AssertionError(f"condition function {fn} not evaluated by this test")

    return ev(conditions[name])


def drop_novalue_ifs(node, conditions: dict, params: dict):
    """Resolve every ``Fn::If`` that has an ``AWS::NoValue`` branch; drop NoValue members."""
    if isinstance(node, dict):
        if set(node) == {"Fn::If"} and NOVALUE in node["Fn::If"][1:]:
            name, yes, no = node["Fn::If"]
            return drop_novalue_ifs(
                yes if condition_holds(name, conditions, params) else no, conditions, params
            )
        out = {k: drop_novalue_ifs(v, conditions, params) for k, v in node.items()}
        return {k: v for k, v in out.items() if v != NOVALUE}
    if isinstance(node, list):
        return [v for v in (drop_novalue_ifs(v, conditions, params) for v in node) if v != NOVALUE]
    return node


def intrinsics(node) -> list:
    if isinstance(node, dict):
        if len(node) == 1 and next(iter(node)) in INTRINSICS:
            return [node]
        return [x for v in node.values() for x in intrinsics(v)]
    if isinstance(node, list):
        return [x for v in node for x in intrinsics(v)]
    return []


def substitute(node, values: dict):
    key = json.dumps(node, sort_keys=True)
    if key in values:
        return values[key]
    if isinstance(node, dict):
        return {k: substitute(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [substitute(v, values) for v in node]
    return node


def create_unsupported(aws, stack: str, logical_id: str, resource: dict) -> None:
    props = resource["Properties"]
    if resource["Type"] == "AWS::KinesisFirehose::DeliveryStream":
        aws("firehose").create_delivery_stream(DeliveryStreamName=f"{stack}-{logical_id}", **props)
    elif resource["Type"] == "AWS::Logs::SubscriptionFilter":
        aws("logs").put_subscription_filter(
            filterName=f"{stack}-{logical_id}",
            **{k[0].lower() + k[1:]: v for k, v in props.items()},
        )
    elif resource["Type"] == "AWS::Lambda::EventInvokeConfig":
        aws("lambda").put_function_event_invoke_config(**props)


# ------------------------------------------------------------------------------ deploy
def deploy(aws, artifact_zip: bytes, params: dict[str, str]) -> str:
    stack = f"logstream-{uuid.uuid4().hex[:8]}"
    bucket = f"artifacts-{uuid.uuid4().hex[:8]}"
    aws("s3").create_bucket(Bucket=bucket)
    aws("s3").put_object(Bucket=bucket, Key="lambda.zip", Body=artifact_zip)

    template = yaml_parse((ROOT / "sam-template.yaml").read_text())
    for res in template["Resources"].values():  # what `sam package` does after `sam build`
        if res["Type"] == "AWS::Serverless::Function":
            res["Properties"]["CodeUri"] = f"s3://{bucket}/lambda.zip"
    template["Globals"]["Function"].pop("CodeUri")
    cfn = transform(template, params, ManagedPolicyLoader(aws("iam")))

    values = {k: str(v.get("Default", "")) for k, v in cfn["Parameters"].items()} | params
    resources = drop_novalue_ifs(cfn["Resources"], cfn["Conditions"], values)
    taken = {
        lid: res
        for lid, res in resources.items()
        if res["Type"] in UNSUPPORTED
        and ("Condition" not in res or condition_holds(res["Condition"], cfn["Conditions"], values))
    }
    resources = {lid: res for lid, res in resources.items() if res["Type"] not in UNSUPPORTED}
    for lid, res in taken.items():
        if res["Type"] == "AWS::KinesisFirehose::DeliveryStream":
            arn = f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/{stack}-{lid}"
            resources = substitute(resources, {json.dumps({"Fn::GetAtt": [lid, "Arn"]}, sort_keys=True): arn})
    for res in resources.values():
        if "DependsOn" in res:
            deps = [
                d for d in ([res["DependsOn"]] if isinstance(res["DependsOn"], str) else res["DependsOn"])
            ]
            res["DependsOn"] = [d for d in deps if d not in taken]
    needed = [
        x for x in intrinsics(list(taken.values())) if not ("Fn::GetAtt" in x and x["Fn::GetAtt"][0] in taken)
    ]
    cfn["Resources"] = resources
    cfn["Outputs"] = {f"Resolve{i}": {"Value": x} for i, x in enumerate(needed)}

    client = aws("cloudformation")
    client.create_stack(
        StackName=stack,
        TemplateBody=json.dumps(cfn),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    desc = client.describe_stacks(StackName=stack)["Stacks"][0]
    assert desc["StackStatus"] == "CREATE_COMPLETE", desc.get("StackStatusReason")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in desc.get("Outputs", [])}
    resolved = {json.dumps(x, sort_keys=True): outputs[f"Resolve{i}"] for i, x in enumerate(needed)}
    for lid, res in taken.items():
        if res["Type"] == "AWS::KinesisFirehose::DeliveryStream":
            arn = f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/{stack}-{lid}"
            resolved[json.dumps({"Fn::GetAtt": [lid, "Arn"]}, sort_keys=True)] = arn
    order = sorted(taken, key=lambda lid: taken[lid]["Type"] != "AWS::KinesisFirehose::DeliveryStream")
    for lid in order:
        create_unsupported(aws, stack, lid, substitute(copy.deepcopy(taken[lid]), resolved))
    return stack


@pytest.fixture(scope="module")
def artifact_zip(host_artifact: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(host_artifact.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(host_artifact).as_posix())
    return buf.getvalue()


def physical(aws, stack: str) -> dict[str, str]:
    summaries = aws("cloudformation").list_stack_resources(StackName=stack)["StackResourceSummaries"]
    return {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in summaries if r["LogicalResourceId"]}


def role_actions(aws, role: str) -> set[str]:
    iam = aws("iam")
    actions: set[str] = set()
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        doc = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        if isinstance(doc, str):  # moto keeps a policy of AWS::IAM::Policy as the Python repr of a dict
            doc = ast.literal_eval(doc)
        for st in doc["Statement"]:
            acts = st["Action"]
            actions.update([acts] if isinstance(acts, str) else acts)
    return actions


def deployed_architectures(aws, stack: str, logical_id: str) -> list[str]:
    """From the stack's (transformed) template: moto's CloudFormation does not pass a function's
    Architectures on to its Lambda (it creates every function as x86_64)."""
    body = aws("cloudformation").get_template(StackName=stack)["TemplateBody"]
    template = body if isinstance(body, dict) else json.loads(body)
    return template["Resources"][logical_id]["Properties"]["Architectures"]


def function_config(aws, name: str) -> dict:
    return aws("lambda").get_function_configuration(FunctionName=name)


# ------------------------------------------------------------------------------- tests
def test_given_only_the_required_parameter_when_deployed_then_the_core_functions_exist(aws, artifact_zip):
    aws("logs").create_log_group(logGroupName="/aws/lambda/checkout-min")
    stack = deploy(aws, artifact_zip, {"LambdaLogGroupName": "/aws/lambda/checkout-min"})
    ids = physical(aws, stack)
    functions = {k for k in ids if k.endswith("Function")}
    assert functions == {"LambdaMetricsFunction", "ForwardFunction", "FirehoseTransformFunction"}
    for logical, handler in [
        ("LambdaMetricsFunction", "handlers.lambda_metrics.handler"),
        ("ForwardFunction", "handlers.forward.handler"),
        ("FirehoseTransformFunction", "handlers.firehose_transform.handler"),
    ]:
        cfg = function_config(aws, ids[logical])
        assert (cfg["Handler"], cfg["Runtime"]) == (handler, "python3.13")
        assert deployed_architectures(aws, stack, logical) == ["arm64"]
    env = function_config(aws, ids["LambdaMetricsFunction"])["Environment"]["Variables"]
    assert env["LAMBDA_ARCHITECTURE"] == "x86_64"  # the monitored functions' default, not ours
    assert env["METRICS_OUTPUT"] == "emf"
    assert not any(k.startswith(("Fluentd", "Archive")) or k.endswith("SourceMapping") for k in ids)
    assert "kinesis:GetRecords" not in role_actions(aws, ids["ForwardFunctionRole"])
    [sub] = aws("logs").describe_subscription_filters(logGroupName="/aws/lambda/checkout-min")[
        "subscriptionFilters"
    ]
    assert sub["destinationArn"] == function_config(aws, ids["LambdaMetricsFunction"])["FunctionArn"]
    assert (
        sub["filterPattern"] == '?"REPORT RequestId" ?"platform.report" ?"Task timed out" ?"signal: killed"'
    )
    invoke = aws("lambda").get_function_event_invoke_config(FunctionName=ids["LambdaMetricsFunction"])
    assert invoke["MaximumRetryAttempts"] == 2 and invoke["DestinationConfig"]["OnFailure"][
        "Destination"
    ].endswith(":" + ids["FailureQueue"].rsplit("/", 1)[1])


def test_given_every_optional_parameter_when_deployed_then_fluentd_forward_source_and_archive_exist(
    aws, artifact_zip
):
    logs, kinesis = aws("logs"), aws("kinesis")
    groups = {
        "lambda": "/aws/lambda/checkout-all",
        "fluentd": "/ecs/fluentd-all",
        "forward": "/ecs/orders-all",
    }
    groups["archive"] = "/ecs/archive-all"
    for g in groups.values():
        logs.create_log_group(logGroupName=g)
    source = f"account-logs-{uuid.uuid4().hex[:6]}"
    kinesis.create_stream(StreamName=source, ShardCount=1)
    source_arn = kinesis.describe_stream_summary(StreamName=source)["StreamDescriptionSummary"]["StreamARN"]
    stack = deploy(
        aws,
        artifact_zip,
        {
            "LambdaLogGroupName": groups["lambda"],
            "FluentdLogGroupName": groups["fluentd"],
            "ForwardLogGroupName": groups["forward"],
            "ForwardFilterPattern": "ERROR",
            "SourceStreamArn": source_arn,
            "MonitoredFunctionArchitecture": "arm64",
            "MetricsOutput": "cloudwatch",
            "DestinationStreamName": f"events-{uuid.uuid4().hex[:6]}",
            "ArchiveLogGroupName": groups["archive"],
        },
    )
    ids = physical(aws, stack)
    lam = aws("lambda")
    arns = {k: function_config(aws, ids[k])["FunctionArn"] for k in ids if k.endswith("Function")}
    assert set(arns) == {
        "LambdaMetricsFunction",
        "FluentdMetricsFunction",
        "ForwardFunction",
        "FirehoseTransformFunction",
    }
    env = function_config(aws, ids["LambdaMetricsFunction"])["Environment"]["Variables"]
    assert (env["LAMBDA_ARCHITECTURE"], env["METRICS_OUTPUT"]) == ("arm64", "cloudwatch")
    assert deployed_architectures(aws, stack, "LambdaMetricsFunction") == ["arm64"]  # ours stay arm64

    # subscriptions: each group to its function; the archive group to the delivery stream
    def subscription(group):
        [sub] = logs.describe_subscription_filters(logGroupName=group)["subscriptionFilters"]
        return sub

    assert subscription(groups["lambda"])["destinationArn"] == arns["LambdaMetricsFunction"]
    assert subscription(groups["fluentd"])["destinationArn"] == arns["FluentdMetricsFunction"]
    assert (
        subscription(groups["forward"])["destinationArn"],
        subscription(groups["forward"])["filterPattern"],
    ) == (
        arns["ForwardFunction"],
        "ERROR",
    )
    archive_sub = subscription(groups["archive"])
    stream_name = archive_sub["destinationArn"].rsplit("/", 1)[1]
    assert archive_sub["destinationArn"].startswith(f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/")
    assert archive_sub["roleArn"].endswith("/" + ids["ArchiveSubscriptionRole"])
    assert role_actions(aws, ids["ArchiveSubscriptionRole"]) == {
        "firehose:PutRecord",
        "firehose:PutRecordBatch",
    }

    # the archive: Firehose runs the transformation function and writes gzip NDJSON by date
    dest = aws("firehose").describe_delivery_stream(DeliveryStreamName=stream_name)[
        "DeliveryStreamDescription"
    ]
    [s3] = dest["Destinations"]
    s3 = s3["ExtendedS3DestinationDescription"]
    assert s3["BucketARN"] == f"arn:aws:s3:::{ids['ArchiveBucket']}"
    assert s3["CompressionFormat"] == "GZIP"
    assert s3["Prefix"] == "logs/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/"
    [processor] = s3["ProcessingConfiguration"]["Processors"]
    params = {p["ParameterName"]: p["ParameterValue"] for p in processor["Parameters"]}
    assert processor["Type"] == "Lambda" and params["LambdaArn"] == arns["FirehoseTransformFunction"]
    assert {"lambda:InvokeFunction", "s3:PutObject"} <= role_actions(aws, ids["ArchiveDeliveryRole"])

    # the account-level stream: both consumers, with partial batch responses
    mappings = lam.list_event_source_mappings(EventSourceArn=source_arn)["EventSourceMappings"]
    assert sorted(m["FunctionArn"] for m in mappings) == sorted(
        [arns["ForwardFunction"], arns["LambdaMetricsFunction"]]
    )
    assert all(m["FunctionResponseTypes"] == ["ReportBatchItemFailures"] for m in mappings)
    assert "kinesis:GetRecords" in role_actions(aws, ids["ForwardFunctionRole"])
