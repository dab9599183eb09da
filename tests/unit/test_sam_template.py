"""The SAM template passes cfn-lint (the same check `sam validate --lint` runs) and keeps its
hardening: least-privilege logs, full source stream ARN, dead-letter queue with an alarm, no
log loops between the deployment's handlers; and it refuses to deploy what a handler would
refuse at cold start (parameter constraints and Rules, checked against the handlers' Config)."""

import itertools
import re
import subprocess
import sys
from pathlib import Path

import pytest

from handlers._config import Config
from logstream import ConfigError
from logstream.metrics import DEFAULT_FLUENTD_NAMESPACE, DEFAULT_LAMBDA_NAMESPACE
from logstream.process.config import ENV_NAMES
from tests import readme_text as readme
from tests.template import load_template

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template():
    return load_template()


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
    # re-ingesting into an encrypted source stream of the delivery stream needs a data key
    policies = template["Resources"]["FirehoseTransformRole"]["Properties"]["Policies"]
    by_condition = {c: doc for c, doc, _ in (p["Fn::If"] for p in policies if "Fn::If" in p)}
    (key,) = by_condition["HasTransformSourceKey"]["PolicyDocument"]["Statement"]
    assert (key["Action"], key["Resource"]) == (
        "kms:GenerateDataKey",
        {"Ref": "TransformSourceStreamKmsKeyArn"},
    )
    assert template["Conditions"]["HasTransformSourceKey"]["Fn::And"][0] == {
        "Condition": "HasTransformSource"
    }


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
        # the transformation too: what it re-ingested only in part (the rest of the record)
        assert env["DEAD_LETTER_QUEUE_URL"] == {"Ref": "FailureQueue"}, name
        role = template["Resources"][fn["Properties"]["Role"]["Fn::GetAtt"].split(".")[0]]
        statements = [
            st
            for policy in role["Properties"]["Policies"]
            if "PolicyDocument" in policy
            for st in policy["PolicyDocument"]["Statement"]
        ]
        assert any(
            st["Action"] == "sqs:SendMessage" and st["Resource"] == {"Fn::GetAtt": "FailureQueue.Arn"}
            for st in statements
        ), name
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


# ------------------------------------------- Rules: refuse at deploy what the handlers refuse
# What each pipeline parameter takes in the combination test: every allowed value of those with
# AllowedValues (read from the template), and for free text the spellings that matter. Other
# parameters keep their defaults.
FREE_TEXT = {
    "MultilineStart": ["", r"^\S", "  "],
    "Tags": [
        "",
        "team=payments",
        " team = payments , env=prod",
        "team",
        "=payments",
        ",",
        " ",
        "a=b,,c=d",
        "team=a,env=b,team=c",
        "team=a, team =b",
        "team=a,teams=b",
    ],
}
CHOICES = ["RecordFormat", "ParseMessages", "JoinMultiline", "Enrich"]
#: Spellings the template refuses that the handler reads as another (whitespace as unset, empty
#: key=value parts skipped): the template is stricter there, never the other way round.
STRICTER = {
    ("MultilineStart", "  "): "",
    ("Tags", ","): "",
    ("Tags", " "): "",
    ("Tags", "a=b,,c=d"): "a=b,c=d",
}
#: What a function's environment gets from resources and pseudo parameters (resolved by
#: CloudFormation); parameters come from the combination under test.
STAND_INS = {
    "DestinationStream.Arn": "arn:aws:kinesis:us-east-1:123456789012:stream/logstream-events",
    "FailureQueue": "https://sqs.us-east-1.amazonaws.com/123456789012/logstream-FailureQueue-1A2B3C",
}


def rule_holds(expr, params):
    """A rule function (RuleCondition or Assert) evaluated as CloudFormation does."""
    if isinstance(expr, str):
        return expr
    if isinstance(expr, list):
        return [rule_holds(x, params) for x in expr]
    ((fn, args),) = expr.items()
    if fn == "Ref":
        return params[args]
    if fn == "Fn::Equals":
        a, b = (rule_holds(x, params) for x in args)
        return a == b
    if fn == "Fn::Not":
        return not rule_holds(args[0], params)
    if fn == "Fn::And":
        return all(rule_holds(x, params) for x in args)
    if fn == "Fn::Or":
        return any(rule_holds(x, params) for x in args)
    if fn == "Fn::Contains":
        values, value = (rule_holds(x, params) for x in args)
        return value in values
    raise AssertionError(f"rule function {fn} not evaluated by this test")


def template_refuses(template, params):
    """Why CloudFormation refuses these parameter values (empty: it deploys): each parameter's
    AllowedValues and AllowedPattern (Java regex; these ones mean the same in Python), then every
    rule whose RuleCondition holds, by the AssertDescription of each assertion that fails."""
    reasons = []
    for name, spec in template["Parameters"].items():
        value = params[name]
        if "AllowedValues" in spec and value not in spec["AllowedValues"]:
            reasons.append(f"{name}: not one of {spec['AllowedValues']}")
        if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
            reasons.append(f"{name}: {spec.get('ConstraintDescription', spec['AllowedPattern'])}")
    for rule in template.get("Rules", {}).values():
        if "RuleCondition" not in rule or rule_holds(rule["RuleCondition"], params):
            reasons += [
                a["AssertDescription"] for a in rule["Assertions"] if not rule_holds(a["Assert"], params)
            ]
    return reasons


def function_environment(template, logical_id, params):
    """The environment CloudFormation gives a function: Globals, then its own variables."""

    def resolve(value):
        if isinstance(value, str):
            return value
        ((fn, arg),) = value.items()
        if fn == "Ref":
            return params[arg] if arg in params else STAND_INS[arg]
        if fn == "Fn::GetAtt":
            return STAND_INS[arg]
        if fn == "Fn::Sub":
            return re.sub(r"\$\{([^}]+)\}", lambda m: params[m.group(1)], arg)
        raise AssertionError(f"{fn} in an environment variable: not resolved by this test")

    variables = template["Globals"]["Function"]["Environment"]["Variables"] | template["Resources"][
        logical_id
    ]["Properties"].get("Environment", {}).get("Variables", {})
    return {k: resolve(v) for k, v in variables.items()}


def handlers_refuse(template, params):
    """Why a function of the template would fail at cold start with these parameter values: its
    own Config.load (handlers/_config.py) on the environment the template gives it."""
    reasons = []
    for logical_id in resources(template, "AWS::Serverless::Function"):
        try:
            Config.load(function_environment(template, logical_id, params))
        except ConfigError as err:
            reasons.append(f"{logical_id}: {err}")
    return reasons


def defaults_with(template, **params):
    values = {k: str(v.get("Default", "")) for k, v in template["Parameters"].items()}
    return values | {"LambdaLogGroupName": "/aws/lambda/checkout"} | params  # the required one


def pipeline_combinations(template):
    defaults = defaults_with(template)
    names = CHOICES + list(FREE_TEXT)
    domains = [template["Parameters"][n]["AllowedValues"] for n in CHOICES] + list(FREE_TEXT.values())
    for values in itertools.product(*domains):
        yield defaults | dict(zip(names, values, strict=True))


def test_given_every_combination_of_the_pipeline_parameters_then_the_template_refuses_what_a_handler_would(
    template,
):
    """The template's constraints and Rules against the handlers' own Config.load, so they
    cannot drift apart: whatever deploys, every function starts; whatever a function refuses is
    refused at deploy (but for the STRICTER spellings, which mean 'unset' to the handler)."""
    counts = {"deploys": 0, "refused by both": 0, "refused by the template only": 0}
    for params in pipeline_combinations(template):
        by_template, by_handlers = template_refuses(template, params), handlers_refuse(template, params)
        if by_template and not by_handlers:  # only a stricter spelling: written plainly, it deploys
            plain = params | {n: STRICTER[n, params[n]] for n in FREE_TEXT if (n, params[n]) in STRICTER}
            assert plain != params and template_refuses(template, plain) == [], (params, by_template)
            counts["refused by the template only"] += 1
            continue
        assert bool(by_template) == bool(by_handlers), (params, by_template, by_handlers)
        counts["refused by both" if by_template else "deploys"] += 1
    assert min(counts.values()) > 0, counts


def test_given_a_refused_combination_then_the_assert_description_names_its_parameters_and_variables(template):
    """Each assertion says which parameters (and the variables they set) to change."""
    env = template["Resources"]["ForwardFunction"]["Properties"]["Environment"]["Variables"]
    variable_of = {v["Ref"]: k for k, v in env.items() if isinstance(v, dict) and "Ref" in v}

    def refs(expr):
        if isinstance(expr, dict):
            return {expr["Ref"]} if "Ref" in expr else {r for v in expr.values() for r in refs(v)}
        if isinstance(expr, list):
            return {r for v in expr for r in refs(v)}
        return set()

    assertions = [(r, a) for r in template["Rules"].values() for a in r["Assertions"]]
    assert len(assertions) == 5
    for rule, assertion in assertions:
        for name in refs(rule.get("RuleCondition")) | refs(assertion["Assert"]):
            assert name in assertion["AssertDescription"], name
            assert variable_of[name] in assertion["AssertDescription"], name


def test_given_cloudwatch_records_and_parsing_then_deploying_is_refused_for_the_reason_the_forwarder_gives(
    template,
):
    params = defaults_with(template, RecordFormat="cloudwatch", ParseMessages="true")
    [reason] = template_refuses(template, params)
    assert reason == (
        "RecordFormat=cloudwatch (RECORD_FORMAT) sends CloudWatch's own documents, which have no place "
        "for parsed fields: ParseMessages (PARSE_MESSAGES) must be false."
    )
    [forwarder] = handlers_refuse(template, params)
    assert forwarder.startswith("ForwardFunction: RECORD_FORMAT=cloudwatch") and "PARSE_MESSAGES" in forwarder
    tagged = defaults_with(template, RecordFormat="cloudwatch", Tags="team=payments", Enrich="true")
    assert [r.split(": ")[-1] for r in template_refuses(template, tagged)] == [
        "Enrich (ENRICH) must not be true.",
        "Tags (TAGS) must be empty.",
    ]
    # filters, sampling and redaction keep CloudWatch's documents: they deploy
    filtered = defaults_with(template, RecordFormat="cloudwatch", IncludePattern="ERROR", Redact="all")
    assert template_refuses(template, filtered) == handlers_refuse(template, filtered) == []


def test_given_a_multiline_start_alone_then_it_deploys_and_joins_but_not_with_join_multiline_false(template):
    params = defaults_with(template, MultilineStart=r"^\S")  # JoinMultiline left at its default
    assert template_refuses(template, params) == handlers_refuse(template, params) == []
    for logical_id in ("ForwardFunction", "FirehoseTransformFunction"):
        assert Config.load(function_environment(template, logical_id, params)).pipeline.join_multiline
    params["JoinMultiline"] = "false"
    assert template_refuses(template, params) == [
        "MultilineStart (MULTILINE_START) only matters when joining lines: with it, JoinMultiline "
        "(JOIN_MULTILINE) must be empty or true, not false."
    ]
    assert len(handlers_refuse(template, params)) == 2  # the forwarder and the transformation
    params["RecordFormat"], params["JoinMultiline"] = "cloudwatch", ""
    [reason] = template_refuses(template, params)
    assert reason.endswith(
        "JoinMultiline (JOIN_MULTILINE) must not be true and MultilineStart (MULTILINE_START) must be empty."
    )


@pytest.mark.parametrize(
    "redact",
    [
        "",
        "all",
        "email",
        "Email, IPv4 ,jwt",
        "all,credit-card",
        "aws-secret-key,bearer,ipv6,aws-access-key",
        "emial",
        "all,ssn",
        "email;ipv4",
        "email,",
        ",",
        "email,,ipv4",
        " ",
    ],
)
def test_given_a_redact_value_then_the_template_refuses_it_when_the_handlers_would(template, redact):
    """Rule names are checked at deploy as the handlers check them at cold start (names in any
    case, spaces around them); empty parts, which the handlers skip, the template refuses."""
    params = defaults_with(template, Redact=redact)
    by_template, by_handlers = template_refuses(template, params), handlers_refuse(template, params)
    if by_handlers:
        assert by_template == [f"Redact: {template['Parameters']['Redact']['ConstraintDescription']}"]
    elif by_template:  # a stricter spelling: without the empty parts it deploys
        plain = ",".join(part for part in redact.split(",") if part.strip())
        assert template_refuses(template, defaults_with(template, Redact=plain)) == [], redact
    handler_ok = {
        "",
        "all",
        "email",
        "Email, IPv4 ,jwt",
        "all,credit-card",
        "aws-secret-key,bearer,ipv6,aws-access-key",
        "email,",
        ",",
        "email,,ipv4",
        " ",
    }
    assert (not by_handlers) == (redact in handler_ok)


@pytest.mark.parametrize(
    "namespace",
    [
        "Logstream/Lambda",
        "My App/Prod #1:v2",
        "x" * 255,
        "x" * 256,
        "AWS/Lambda",
        "Équipe/Lambda",
        "a\tb",
        " Logstream",
        "Logstream ",
    ],
)
def test_given_a_metrics_namespace_then_the_template_refuses_it_when_the_metrics_function_would(
    template, namespace
):
    """MetricsNamespace also names the IAM condition and the dashboard's searches, so spaces at
    either end, which the function would strip, are refused too: the template is stricter there."""
    params = defaults_with(template, MetricsNamespace=namespace)
    by_template, by_handlers = template_refuses(template, params), handlers_refuse(template, params)
    if namespace != namespace.strip():
        assert by_template and not by_handlers
    else:
        assert bool(by_template) == bool(by_handlers), (by_template, by_handlers)
    assert bool(by_template) == (namespace not in ("Logstream/Lambda", "My App/Prod #1:v2", "x" * 255))


# ------------------------------- each parameter reaches the variable it sets, on each reader
VARIABLE = re.compile(r"\b[A-Z][A-Z0-9_]{2,}\b")
#: The code's default namespace of each metrics handler (what the README's handlers table says)
HANDLER_DEFAULTS = {
    ("handlers.lambda_metrics.handler", "METRICS_NAMESPACE"): DEFAULT_LAMBDA_NAMESPACE,
    ("handlers.fluentd_metrics.handler", "METRICS_NAMESPACE"): DEFAULT_FLUENTD_NAMESPACE,
}


def documented_readers() -> dict[str, set[str]]:
    """Handler -> the variables the README's handlers table says it reads ("the pipeline
    variables below" and "Every handler also reads SELF_METRICS" included)."""
    body = readme.section("Handlers and configuration")
    assert "Every handler also reads `SELF_METRICS`" in " ".join(body.split())
    readers = {}
    for handler, _, env in readme.table(body, "| handler |"):
        names = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", env)) | {"SELF_METRICS"}
        if "the pipeline variables below" in env:
            names |= set(ENV_NAMES.values())
        readers[readme.spans(handler)[0]] = names
    return readers


def documented_defaults() -> dict[tuple[str, str], str]:
    """(handler, variable) -> the default the README's handlers table gives it."""
    out = {}
    for handler, _, env in readme.table(readme.section("Handlers and configuration"), "| handler |"):
        for var, value in re.findall(r"`([A-Z_]+)` \(default `([^`]+)`\)", env):
            out[readme.spans(handler)[0], var] = value
    return out


def parameter_refs(value) -> set[str]:
    """The names a variable's value takes from (Ref, or ${...} in Sub)."""
    if isinstance(value, dict) and "Ref" in value:
        return {value["Ref"]}
    if isinstance(value, dict) and "Fn::Sub" in value:
        return set(re.findall(r"\$\{([^}.!]+)\}", value["Fn::Sub"]))
    return set()


def test_given_a_parameter_then_it_sets_the_variable_it_names_on_every_function_reading_it(
    template,
):
    """A parameter's Description names first the variable it sets; every function whose handler
    reads that variable (the README's handlers table) gets it from the parameter, or holds the
    handler's documented default as a fixed value; no function gets a variable from a parameter
    that does not say so; and a parameter left at its default gives the code's default."""
    readers, defaults = documented_readers(), documented_defaults()
    known = set().union(*readers.values())
    sets: dict[str, str] = {}
    for name, spec in template["Parameters"].items():
        named = [v for v in VARIABLE.findall(spec.get("Description", "")) if v in known]
        if named:
            sets[name] = named[0]
    assert set(sets.values()) >= set(ENV_NAMES.values()) | {"RECORD_FORMAT", "SELF_METRICS", "METRICS_OUTPUT"}
    functions = resources(template, "AWS::Serverless::Function")
    checked = 0
    for logical_id, fn in functions.items():
        handler = fn["Properties"]["Handler"]
        env = template["Globals"]["Function"]["Environment"]["Variables"] | fn["Properties"].get(
            "Environment", {}
        ).get("Variables", {})
        for var, value in env.items():  # nothing set from a parameter that does not say so
            for param in parameter_refs(value) & set(template["Parameters"]):
                assert sets.get(param) == var, (logical_id, var, param)
        for param, var in sets.items():
            if var not in readers[handler]:
                continue
            value = env.get(var)
            assert value is not None, f"{logical_id} reads {var} but the template does not set it"
            if isinstance(value, str):  # a fixed value: the handler's documented default
                assert value == defaults[handler, var] == HANDLER_DEFAULTS[handler, var], (logical_id, var)
                continue
            assert param in parameter_refs(value), (logical_id, var, value)
            checked += 1
    assert checked >= 2 * len(ENV_NAMES) + 4  # the pipeline on two functions, and the others
    # a parameter at its default: the variable's default in the code
    for param, var in sets.items():
        spec = template["Parameters"][param]
        if var == "SKIP_LOG_GROUPS":  # made from NamePrefix: the deployment's own groups
            continue
        if var == "METRICS_NAMESPACE":
            assert spec["Default"] == DEFAULT_LAMBDA_NAMESPACE
            continue
        assert Config.load({var: str(spec["Default"])}) == Config.load({}), (param, var)
