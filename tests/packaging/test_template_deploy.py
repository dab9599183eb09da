"""The template deploys into CloudFormation (moto's, over the wire) after the SAM transform
(aws-sam-translator, the library CloudFormation's AWS::Serverless transform runs), with the
defaults and with every optional parameter, and what it creates is read back from the services.

Where moto's CloudFormation falls short of CloudFormation, the test does the missing step
itself, and only that:
- ``Fn::If`` with an ``AWS::NoValue`` branch (optional policies in a role's policy list, the
  alarm's optional actions): moto keeps a null in the list; the test evaluates the condition and
  drops the branch, as CloudFormation does.
- A function's ``Architectures`` and ``LoggingConfig``, which moto's CloudFormation does not pass
  on to Lambda: read from the stack's template (the log group it names is read back from Logs).
- A role's inline policies, which moto answers as the Python repr of a dict: parsed as such.
- Resource types moto's CloudFormation does not create (``UNSUPPORTED``; for such a type moto
  warns and the suite's warnings-as-errors turn that into HTTP 500 inside moto's server): the
  test takes them out of the stack, lets the stack resolve their ``Ref``/``Fn::GetAtt``/
  ``Fn::Sub`` values (as outputs), and creates them through their own APIs with the template's
  properties, named ``<stack>-<logical id>``: subscription filters, event invoke configs,
  the Firehose delivery stream and the CloudWatch alarm. A supported resource that refers to one
  of them gets its ARN, known in advance from that name. moto has no account policies at all
  (``AWS::Logs::AccountPolicy``, PutAccountPolicy): the test checks the properties the stack
  resolved for it, which CloudFormation would pass to PutAccountPolicy.
- What CloudFormation checks before it creates anything: the parameters' AllowedValues,
  AllowedPattern (a Java regex; the template's mean the same in Python) and MinValue/MaxValue,
  and the template's ``Rules``. moto's CloudFormation checks none of them (it creates a stack
  that CloudFormation refuses); the test evaluates them on the transformed template and refuses
  as CloudFormation would, naming the parameter or giving the rule's AssertDescription, before
  CreateStack.

Every deployed function's environment, read back from Lambda, is loaded with the handlers' own
``Config.load``: what deploys also starts.
"""

from __future__ import annotations

import ast
import copy
import io
import json
import re
import uuid
import zipfile
from pathlib import Path

import pytest
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

from handlers._config import Config
from tests.packaging.conftest import ROOT

ACCOUNT, REGION = "123456789012", "us-east-1"
NOVALUE = {"Ref": "AWS::NoValue"}
UNSUPPORTED = {
    "AWS::KinesisFirehose::DeliveryStream",
    "AWS::Logs::SubscriptionFilter",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::CloudWatch::Alarm",
    "AWS::Logs::AccountPolicy",
}
INTRINSICS = {"Ref", "Fn::GetAtt", "Fn::Sub", "Fn::Join", "Fn::Select", "Fn::Split"}


# ------------------------------------------------------------- what moto cannot evaluate
def holds(expr: dict, conditions: dict, params: dict) -> bool:
    """A condition, or a rule's RuleCondition or Assert (the same functions, on parameters)."""
    if "Condition" in expr:
        return holds(conditions[expr["Condition"]], conditions, params)
    ((fn, args),) = expr.items()
    if fn == "Fn::Not":
        return not holds(args[0], conditions, params)
    if fn == "Fn::And":
        return all(holds(a, conditions, params) for a in args)
    if fn == "Fn::Or":
        return any(holds(a, conditions, params) for a in args)
    if fn == "Fn::Equals":
        a, b = (params[x["Ref"]] if isinstance(x, dict) else x for x in args)
        return a == b
    raise AssertionError(f"condition function {fn} not evaluated by this test")


def condition_holds(name: str, conditions: dict, params: dict) -> bool:
    return holds(conditions[name], conditions, params)


class Refused(Exception):
    """What CloudFormation answers CreateStack (ValidationError) for parameters it refuses."""


def refusals(cfn: dict, values: dict[str, str]) -> list[str]:
    """Why CloudFormation refuses these parameter values: each parameter's constraints, then each
    assertion of every rule whose RuleCondition holds (by its AssertDescription)."""
    reasons = []
    for name, spec in cfn["Parameters"].items():
        value = values[name]
        if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
            reasons.append(f"Parameter '{name}' must be one of AllowedValues")
        if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
            reasons.append(f"Parameter '{name}' must match pattern {spec['AllowedPattern']}")
        if spec["Type"] == "Number" and not (
            float(spec.get("MinValue", "-inf")) <= float(value) <= float(spec.get("MaxValue", "inf"))
        ):
            reasons.append(f"Parameter '{name}' must be between MinValue and MaxValue")
    for rule in cfn.get("Rules", {}).values():
        if "RuleCondition" not in rule or holds(rule["RuleCondition"], {}, values):
            reasons += [
                a["AssertDescription"] for a in rule["Assertions"] if not holds(a["Assert"], {}, values)
            ]
    return reasons


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


def taken_name(stack: str, logical_id: str) -> str:
    """The physical name the test gives a resource it creates itself (CloudFormation's own names
    are ``<stack>-<logical id>-<suffix>``; the suffix is left out so the ARN is known in advance)."""
    return f"{stack}-{logical_id}"


def known_attributes(stack: str, logical_id: str, resource: dict) -> dict:
    """``Fn::GetAtt`` values of a resource the test creates itself, known before it exists."""
    if resource["Type"] == "AWS::KinesisFirehose::DeliveryStream":
        arn = f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/{taken_name(stack, logical_id)}"
        return {json.dumps({"Fn::GetAtt": [logical_id, "Arn"]}, sort_keys=True): arn}
    return {}


def create_unsupported(aws, stack: str, logical_id: str, resource: dict) -> None:
    props, name = resource["Properties"], taken_name(stack, logical_id)
    if resource["Type"] == "AWS::KinesisFirehose::DeliveryStream":
        aws("firehose").create_delivery_stream(DeliveryStreamName=name, **props)
    elif resource["Type"] == "AWS::Logs::SubscriptionFilter":
        aws("logs").put_subscription_filter(
            filterName=name, **{k[0].lower() + k[1:]: v for k, v in props.items()}
        )
    elif resource["Type"] == "AWS::Lambda::EventInvokeConfig":
        aws("lambda").put_function_event_invoke_config(**props)
    elif resource["Type"] == "AWS::CloudWatch::Alarm":
        aws("cloudwatch").put_metric_alarm(AlarmName=name, **props)
    elif resource["Type"] == "AWS::Logs::AccountPolicy":
        pass  # moto has no PutAccountPolicy: the test checks the resolved properties instead
    else:
        raise AssertionError(f"{resource['Type']} is not created by this test")


# ------------------------------------------------------------------------------ deploy
def deploy(aws, artifact_zip: bytes, params: dict[str, str]) -> tuple[str, dict[str, dict]]:
    """Deploy the template as stack; answer its name and the resources the test took out of it,
    with every ``Ref``/``Fn::GetAtt``/``Fn::Sub`` resolved as CloudFormation would pass them on."""
    stack = f"logstream-{uuid.uuid4().hex[:8]}"
    bucket = f"artifacts-{uuid.uuid4().hex[:8]}"

    template = yaml_parse((ROOT / "sam-template.yaml").read_text())
    for res in template["Resources"].values():  # what `sam package` does after `sam build`
        if res["Type"] == "AWS::Serverless::Function":
            res["Properties"]["CodeUri"] = f"s3://{bucket}/lambda.zip"
    template["Globals"]["Function"].pop("CodeUri")
    cfn = transform(template, params, ManagedPolicyLoader(aws("iam")))

    values = {k: str(v.get("Default", "")) for k, v in cfn["Parameters"].items()} | params
    if reasons := refusals(cfn, values):  # CloudFormation refuses before it creates anything
        raise Refused(reasons)
    aws("s3").create_bucket(Bucket=bucket)
    aws("s3").put_object(Bucket=bucket, Key="lambda.zip", Body=artifact_zip)
    resources = drop_novalue_ifs(cfn["Resources"], cfn["Conditions"], values)
    taken = {
        lid: res
        for lid, res in resources.items()
        if res["Type"] in UNSUPPORTED
        and ("Condition" not in res or condition_holds(res["Condition"], cfn["Conditions"], values))
    }
    resources = {lid: res for lid, res in resources.items() if res["Type"] not in UNSUPPORTED}
    known: dict[str, str] = {}
    for lid, res in taken.items():
        known |= known_attributes(stack, lid, res)
    resources = substitute(resources, known)
    for res in resources.values():
        if "DependsOn" in res:
            deps = [res["DependsOn"]] if isinstance(res["DependsOn"], str) else res["DependsOn"]
            res["DependsOn"] = [d for d in deps if d not in taken]
    needed = [x for x in intrinsics(list(taken.values())) if json.dumps(x, sort_keys=True) not in known]
    cfn["Resources"] = resources
    cfn["Outputs"] = cfn.get("Outputs", {}) | {f"Resolve{i}": {"Value": x} for i, x in enumerate(needed)}

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
    resolved = known | {json.dumps(x, sort_keys=True): outputs[f"Resolve{i}"] for i, x in enumerate(needed)}
    created = {lid: substitute(copy.deepcopy(res), resolved) for lid, res in taken.items()}
    order = sorted(created, key=lambda lid: created[lid]["Type"] != "AWS::KinesisFirehose::DeliveryStream")
    for lid in order:
        create_unsupported(aws, stack, lid, created[lid])
    return stack, created


def stack_outputs(aws, stack: str) -> dict[str, str]:
    """The template's own outputs (the ``Resolve*`` ones are the test's)."""
    desc = aws("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    return {
        o["OutputKey"]: o["OutputValue"] for o in desc["Outputs"] if not o["OutputKey"].startswith("Resolve")
    }


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


def role_policies(aws, role: str) -> dict[str, list[dict]]:
    """The inline policies of a role: name -> statements, each with its actions as a list."""
    iam = aws("iam")
    out = {}
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        doc = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        if isinstance(doc, str):  # moto keeps a role's inline policy from a stack as a dict's repr
            doc = ast.literal_eval(doc)
        out[name] = [
            st | {"Action": [st["Action"]] if isinstance(st["Action"], str) else st["Action"]}
            for st in doc["Statement"]
        ]
    return out


def role_actions(aws, role: str) -> set[str]:
    return {a for sts in role_policies(aws, role).values() for st in sts for a in st["Action"]}


def trusted_service(aws, role: str) -> str:
    [st] = aws("iam").get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]["Statement"]
    assert (st["Effect"], st["Action"]) == ("Allow", "sts:AssumeRole")
    return st["Principal"]["Service"]


def stack_template(aws, stack: str) -> dict:
    body = aws("cloudformation").get_template(StackName=stack)["TemplateBody"]
    return body if isinstance(body, dict) else json.loads(body)


def deployed_architectures(aws, stack: str, logical_id: str) -> list[str]:
    """From the stack's (transformed) template: moto's CloudFormation does not pass a function's
    Architectures on to its Lambda (it creates every function as x86_64)."""
    return stack_template(aws, stack)["Resources"][logical_id]["Properties"]["Architectures"]


def deployed_log_group(aws, stack: str, logical_id: str) -> str:
    """The log group a function logs to: its ``LoggingConfig`` from the stack's template (moto's
    CloudFormation does not pass it on to Lambda), resolved to the log group the stack created."""
    config = stack_template(aws, stack)["Resources"][logical_id]["Properties"]["LoggingConfig"]
    return physical(aws, stack)[config["LogGroup"]["Ref"]]


def function_config(aws, name: str) -> dict:
    return aws("lambda").get_function_configuration(FunctionName=name)


# Each function: its name after NamePrefix, its role, its handler.
FUNCTIONS = {
    "LambdaMetricsFunction": ("lambda-metrics", "LambdaMetricsRole", "handlers.lambda_metrics.handler"),
    "FluentdMetricsFunction": ("fluentd-metrics", "FluentdMetricsRole", "handlers.fluentd_metrics.handler"),
    "ForwardFunction": ("forward", "ForwardRole", "handlers.forward.handler"),
    "FirehoseTransformFunction": (
        "firehose-transform",
        "FirehoseTransformRole",
        "handlers.firehose_transform.handler",
    ),
}


def handler_log_groups(prefix: str) -> list[str]:
    return [f"/aws/lambda/{prefix}-{FUNCTIONS[k][0]}" for k in FUNCTIONS]


def check_function(aws, stack: str, ids: dict[str, str], logical_id: str, prefix: str, memory: int) -> None:
    """A function is named from NamePrefix, runs our handler on arm64, logs to its own log group
    (14 days) and has a role of its own whose only log permission is writing to that group."""
    suffix, role, handler = FUNCTIONS[logical_id]
    name = f"{prefix}-{suffix}"
    assert ids[logical_id] == name
    cfg = function_config(aws, name)
    assert (cfg["Handler"], cfg["Runtime"], cfg["MemorySize"]) == (handler, "python3.13", memory)
    assert deployed_architectures(aws, stack, logical_id) == ["arm64"]
    assert cfg["Environment"]["Variables"]["SKIP_LOG_GROUPS"] == ",".join(handler_log_groups(prefix))
    assert deployed_log_group(aws, stack, logical_id) == f"/aws/lambda/{name}"
    [group] = aws("logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{name}")["logGroups"]
    assert (group["logGroupName"], group["retentionInDays"]) == (f"/aws/lambda/{name}", 14)
    assert cfg["Role"] == aws("iam").get_role(RoleName=ids[role])["Role"]["Arn"]
    assert trusted_service(aws, ids[role]) == "lambda.amazonaws.com"
    policies = role_policies(aws, ids[role])
    assert policies["own-log-group"] == [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{name}:*",
        }
    ]
    others = [st for n, sts in policies.items() if n != "own-log-group" for st in sts]
    assert not any(a.startswith("logs:") for st in others for a in st["Action"])


def started(aws, ids: dict[str, str]) -> dict[str, Config]:
    """Each deployed function's configuration as its handler loads it at cold start, from the
    environment Lambda holds (a ConfigError here is a function that would fail every invocation)."""
    return {
        logical: Config.load(function_config(aws, ids[logical])["Environment"]["Variables"])
        for logical in FUNCTIONS
        if logical in ids
    }


def queue_arn(queue_url: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_url.rsplit('/', 1)[1]}"


def failure_queue_alarm(aws, stack: str, queue_url: str) -> dict:
    """The alarm on the dead-letter queue (created by the test: see the module docstring)."""
    name = taken_name(stack, "FailureQueueAlarm")
    [alarm] = aws("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": queue_url.rsplit("/", 1)[1]}]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "Maximum",
    )
    assert (alarm["Threshold"], alarm["ComparisonOperator"], alarm["TreatMissingData"]) == (
        0,
        "GreaterThanThreshold",
        "notBreaching",
    )
    return alarm


# ------------------------------------------------------------------------------- tests
def test_given_only_the_required_parameter_when_deployed_then_the_core_functions_exist(aws, artifact_zip):
    aws("logs").create_log_group(logGroupName="/aws/lambda/checkout-min")
    stack, created = deploy(aws, artifact_zip, {"LambdaLogGroupName": "/aws/lambda/checkout-min"})
    ids = physical(aws, stack)
    functions = {k for k in ids if k.endswith("Function")}
    assert functions == {"LambdaMetricsFunction", "ForwardFunction", "FirehoseTransformFunction"}
    for logical in sorted(functions):  # named from the default NamePrefix
        check_function(aws, stack, ids, logical, "logstream", 512)
        assert "ReservedConcurrentExecutions" not in aws("lambda").get_function_concurrency(
            FunctionName=ids[logical]
        )
    assert len({ids[FUNCTIONS[k][1]] for k in functions}) == 3  # one role per function
    configs = started(aws, ids)
    assert configs["ForwardFunction"].record_format == "ndjson"
    assert not configs["ForwardFunction"].pipeline.enabled
    assert not configs["FirehoseTransformFunction"].pipeline.enabled
    env = function_config(aws, ids["LambdaMetricsFunction"])["Environment"]["Variables"]
    assert env["LAMBDA_ARCHITECTURE"] == "x86_64"  # the monitored functions' default, not ours
    assert (env["METRICS_OUTPUT"], env["METRICS_NAMESPACE"]) == ("emf", "Logstream/Lambda")
    assert env["DEAD_LETTER_QUEUE_URL"] == ids["FailureQueue"]
    assert not any(
        k.startswith(("Fluentd", "Archive", "AccountSubscription")) or k.endswith("SourceMapping")
        for k in ids
    )
    assert "AccountSubscriptionPolicy" not in created
    assert not {"kinesis:GetRecords", "kms:Decrypt"} & role_actions(aws, ids["ForwardRole"])
    assert not {"kinesis:GetRecords", "kms:Decrypt"} & role_actions(aws, ids["LambdaMetricsRole"])
    transform_role = role_policies(aws, ids["FirehoseTransformRole"])
    assert set(transform_role) == {"own-log-group", "dead-letters"}  # no re-ingest
    [dead_letters] = transform_role["dead-letters"]  # what it re-ingested only in part
    assert dead_letters["Action"] == ["sqs:SendMessage"]
    assert dead_letters["Resource"].endswith(":" + ids["FailureQueue"].rsplit("/", 1)[1])
    [sub] = aws("logs").describe_subscription_filters(logGroupName="/aws/lambda/checkout-min")[
        "subscriptionFilters"
    ]
    assert sub["destinationArn"] == function_config(aws, ids["LambdaMetricsFunction"])["FunctionArn"]
    assert (
        sub["filterPattern"] == '?"REPORT RequestId" ?"platform.report" ?"Task timed out" ?"signal: killed"'
    )
    for logical in ("LambdaMetricsFunction", "ForwardFunction"):
        invoke = aws("lambda").get_function_event_invoke_config(FunctionName=ids[logical])
        assert invoke["MaximumRetryAttempts"] == 2
        assert invoke["DestinationConfig"]["OnFailure"]["Destination"] == queue_arn(ids["FailureQueue"])
    assert failure_queue_alarm(aws, stack, ids["FailureQueue"])["AlarmActions"] == []  # no topic
    for metric in ("FailedEntries", "DecodeErrors"):
        name = taken_name(stack, f"Pipeline{metric}Alarm")
        [alarm] = aws("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]
        stats = [q["MetricStat"] for q in alarm["Metrics"] if "MetricStat" in q]
        assert {(m["Metric"]["Namespace"], m["Metric"]["MetricName"]) for m in stats} == {
            ("Logstream/Pipeline", metric)
        }
        assert sorted(m["Metric"]["Dimensions"][0]["Value"] for m in stats) == sorted(
            g.removeprefix("/aws/lambda/") for g in handler_log_groups("logstream")
        )
    body = json.loads(aws("cloudwatch").get_dashboard(DashboardName="logstream-operations")["DashboardBody"])
    assert body["widgets"][1]["properties"]["region"] == REGION  # substituted by the stack
    assert stack_outputs(aws, stack) == {
        "FirehoseTransformFunctionArn": function_config(aws, "logstream-firehose-transform")["FunctionArn"],
        "DestinationStreamArn": f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/logstream-events",
        "FailureQueueUrl": ids["FailureQueue"],
        "HandlerLogGroups": ",".join(handler_log_groups("logstream")),
        "DashboardName": "logstream-operations",
    }


def test_given_every_optional_parameter_when_deployed_then_every_optional_resource_exists(aws, artifact_zip):
    logs, kinesis = aws("logs"), aws("kinesis")
    groups = {
        "lambda": "/aws/lambda/checkout-all",
        "fluentd": "/ecs/fluentd-all",
        "forward": "/ecs/orders-all",
        "archive": "/ecs/archive-all",
    }
    for g in groups.values():
        logs.create_log_group(logGroupName=g)
    source = f"account-logs-{uuid.uuid4().hex[:6]}"
    kinesis.create_stream(StreamName=source, ShardCount=1)
    source_arn = kinesis.describe_stream_summary(StreamName=source)["StreamDescriptionSummary"]["StreamARN"]
    key_arn = aws("kms").create_key()["KeyMetadata"]["Arn"]
    topic_arn = aws("sns").create_topic(Name=f"alarms-{uuid.uuid4().hex[:6]}")["TopicArn"]
    reingest_arn = f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/elsewhere-{uuid.uuid4().hex[:6]}"
    prefix = f"ls-{uuid.uuid4().hex[:6]}"
    stack, created = deploy(
        aws,
        artifact_zip,
        {
            "NamePrefix": prefix,
            "LambdaLogGroupName": groups["lambda"],
            "FluentdLogGroupName": groups["fluentd"],
            "ForwardLogGroupName": groups["forward"],
            "ForwardFilterPattern": "ERROR",
            "MetricsNamespace": "Checkout/Lambda",
            "SourceStreamArn": source_arn,
            "SourceStreamKmsKeyArn": key_arn,
            "SourceStartingPosition": "TRIM_HORIZON",
            "SourceParallelization": "3",
            "CreateAccountSubscriptionPolicy": "true",
            "TransformDeliveryStreamArn": reingest_arn,
            "TransformSourceStreamArn": source_arn,
            "TransformSourceStreamKmsKeyArn": key_arn,
            "ReservedConcurrency": "5",
            "FunctionMemorySize": "1024",
            "AlarmTopicArn": topic_arn,
            "MonitoredFunctionArchitecture": "arm64",
            "MetricsOutput": "cloudwatch",
            "DestinationStreamName": f"events-{uuid.uuid4().hex[:6]}",
            "ArchiveLogGroupName": groups["archive"],
            "RecordFormat": "ndjson-gzip",
            "ParseMessages": "true",
            "MultilineStart": r"^\S",
            "IncludePattern": "orders",
            "ExcludePattern": "healthcheck",
            "MinLevel": "INFO",
            "SampleRate": "0.5",
            "Redact": "email,ipv4",
            "RedactPatterns": "order-[0-9]+",
            "Enrich": "false",
            "Tags": "team=payments,env=prod",
            "SelfMetrics": "false",
        },
    )
    ids = physical(aws, stack)
    lam = aws("lambda")
    arns = {k: function_config(aws, ids[k])["FunctionArn"] for k in ids if k.endswith("Function")}
    assert set(arns) == set(FUNCTIONS)
    for logical in FUNCTIONS:  # named from NamePrefix, each with its own role and log group
        check_function(aws, stack, ids, logical, prefix, 1024)
        assert lam.get_function_concurrency(FunctionName=ids[logical])["ReservedConcurrentExecutions"] == 5
    assert len({ids[role] for _, role, _ in FUNCTIONS.values()}) == 4
    configs = started(aws, ids)
    assert configs["ForwardFunction"].record_format == "ndjson-gzip"
    for logical in ("ForwardFunction", "FirehoseTransformFunction"):  # the pipeline, both
        pipe = configs[logical].pipeline
        assert (pipe.parse, pipe.join_multiline, pipe.multiline_start.pattern) == (True, True, r"^\S")
        assert (pipe.include.pattern, pipe.exclude.pattern) == ("orders", "healthcheck")
        assert (pipe.min_level, pipe.sample_rate, pipe.redact) == ("INFO", 0.5, ("email", "ipv4"))
        assert [p.pattern for p in pipe.redact_patterns] == ["order-[0-9]+"]
        assert (pipe.enriches, pipe.tags) == (False, {"team": "payments", "env": "prod"})
    assert not any(c.self_metrics for c in configs.values())
    env = function_config(aws, ids["LambdaMetricsFunction"])["Environment"]["Variables"]
    assert (env["LAMBDA_ARCHITECTURE"], env["METRICS_OUTPUT"]) == ("arm64", "cloudwatch")
    assert env["METRICS_NAMESPACE"] == "Checkout/Lambda"
    [metrics, dead_letters] = role_policies(aws, ids["LambdaMetricsRole"])["metrics-and-dead-letters"]
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": "Checkout/Lambda"}}
    assert (dead_letters["Action"], dead_letters["Resource"]) == (
        ["sqs:SendMessage"],
        queue_arn(ids["FailureQueue"]),
    )

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
    assert {(m["StartingPosition"], m["ParallelizationFactor"]) for m in mappings} == {("TRIM_HORIZON", 3)}
    assert all(
        m["DestinationConfig"]["OnFailure"]["Destination"] == queue_arn(ids["FailureQueue"]) for m in mappings
    )
    for role in ("ForwardRole", "LambdaMetricsRole"):  # read the stream, decrypt with its key
        policies = role_policies(aws, ids[role])
        [stream] = policies["source-stream"]
        assert ("kinesis:GetRecords" in stream["Action"], stream["Resource"]) == (True, source_arn)
        assert policies["source-stream-key"] == [
            {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": key_arn}
        ]

    # the account-level subscription policy: every log group to the stream, but the handlers' own
    # (resolved by the stack; moto has no account policies: see the module docstring)
    policy = created["AccountSubscriptionPolicy"]["Properties"]
    role_arn = aws("iam").get_role(RoleName=ids["AccountSubscriptionRole"])["Role"]["Arn"]
    assert (policy["PolicyName"], policy["PolicyType"], policy["Scope"]) == (
        f"{prefix}-account-subscription",
        "SUBSCRIPTION_FILTER_POLICY",
        "ALL",
    )
    assert json.loads(policy["PolicyDocument"]) == {
        "DestinationArn": source_arn,
        "RoleArn": role_arn,
        "FilterPattern": "",
        "Distribution": "Random",
    }
    assert policy["SelectionCriteria"] == "LogGroupName NOT IN [{}]".format(
        ", ".join(f'"{g}"' for g in handler_log_groups(prefix))
    )
    assert trusted_service(aws, ids["AccountSubscriptionRole"]) == "logs.amazonaws.com"
    assert role_policies(aws, ids["AccountSubscriptionRole"]) == {
        "put-into-source-stream": [
            {"Effect": "Allow", "Action": ["kinesis:PutRecord"], "Resource": source_arn}
        ]
    }

    # the transformation function may re-ingest into its delivery stream and that stream's source
    transform_role = role_policies(aws, ids["FirehoseTransformRole"])
    assert transform_role["reingest"] == [
        {"Effect": "Allow", "Action": ["firehose:PutRecordBatch"], "Resource": reingest_arn}
    ]
    assert transform_role["reingest-source-stream"] == [
        {"Effect": "Allow", "Action": ["kinesis:PutRecords"], "Resource": source_arn}
    ]
    assert transform_role["reingest-source-stream-key"] == [
        {"Effect": "Allow", "Action": ["kms:GenerateDataKey"], "Resource": key_arn}
    ]

    # the dead-letter queue's alarm notifies the topic
    assert failure_queue_alarm(aws, stack, ids["FailureQueue"])["AlarmActions"] == [topic_arn]
    outputs = stack_outputs(aws, stack)
    assert (outputs["ArchiveBucketName"], outputs["HandlerLogGroups"]) == (
        ids["ArchiveBucket"],
        ",".join(handler_log_groups(prefix)),
    )


def test_given_parameters_a_handler_refuses_when_deployed_then_nothing_is_created_and_the_reason_names_them(
    aws, artifact_zip
):
    """CloudFormation's Rules and parameter constraints (evaluated by the test: see the module
    docstring) refuse what would make a function fail every invocation at cold start."""
    aws("logs").create_log_group(logGroupName="/aws/lambda/checkout-refused")
    stacks = aws("cloudformation").list_stacks()["StackSummaries"]
    required = {
        "LambdaLogGroupName": "/aws/lambda/checkout-refused",
        "NamePrefix": f"ls-{uuid.uuid4().hex[:6]}",  # names of its own: the other tests' are taken
        "DestinationStreamName": f"events-{uuid.uuid4().hex[:6]}",
    }
    refused = {
        "cloudwatch and parsing": (
            {"RecordFormat": "cloudwatch", "ParseMessages": "true"},
            "ParseMessages (PARSE_MESSAGES) must be false",
        ),
        "cloudwatch and tags": (
            {"RecordFormat": "cloudwatch", "Tags": "team=payments"},
            "Tags (TAGS) must be empty",
        ),
        "cloudwatch and enrichment": (
            {"RecordFormat": "cloudwatch", "Enrich": "true"},
            "Enrich (ENRICH) must not be true",
        ),
        "cloudwatch and joining": (
            {"RecordFormat": "cloudwatch", "JoinMultiline": "true"},
            "JoinMultiline (JOIN_MULTILINE) must not be true",
        ),
        "a start pattern without joining": (
            {"MultilineStart": r"^\S", "JoinMultiline": "false"},
            "JoinMultiline (JOIN_MULTILINE) must be empty or true",
        ),
        "tags that are not key=value": ({"Tags": "team"}, "Parameter 'Tags' must match pattern"),
    }
    for case, (params, reason) in refused.items():
        with pytest.raises(Refused) as err:
            deploy(aws, artifact_zip, required | params)
        [said] = err.value.args[0]
        assert reason in said, case
    assert aws("cloudformation").list_stacks()["StackSummaries"] == stacks  # nothing was created

    # CloudWatch's documents with filters, sampling and redaction: deployed, and the forwarder starts
    stack, _ = deploy(
        aws,
        artifact_zip,
        required
        | {"RecordFormat": "cloudwatch", "IncludePattern": "ERROR", "SampleRate": "0.5", "Redact": "all"},
    )
    configs = started(aws, physical(aws, stack))
    forward = configs["ForwardFunction"]
    assert (forward.record_format, forward.pipeline.include.pattern, forward.pipeline.redact) == (
        "cloudwatch",
        "ERROR",
        ("all",),
    )
