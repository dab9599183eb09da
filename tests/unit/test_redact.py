"""Redaction: each rule's positives and look-alikes, exact replacements, custom patterns, the
parsed fields, and the batch path (google-re2 and the ``bytes.find`` fallback) against the
text-by-text path, which is the reference."""

import json
import random
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logstream import ConfigError
from logstream.models import LogEvent, LogStream, MessageType
from logstream.process import Redactor, from_stream, parse_events, redact_events
from logstream.process import redact as redact_module
from logstream.process.redact import RULE_NAMES, RULES

BACKENDS = ["re2", "pure"]


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Run a test with google-re2's trigger search and again with the ``bytes.find`` fallback."""
    with trigger_search(request.param):
        yield request.param


class trigger_search:
    """``with trigger_search("re2" | "pure"):`` the batch path in use, checked."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        redact_module.use_re2(self.name == "re2")
        assert redact_module.re2_in_use() == (self.name == "re2")  # google-re2 is a dev dependency

    def __exit__(self, *exc):
        redact_module.use_re2(True)


def reference(redactor, texts):
    """What :meth:`Redactor.batch` must return: :meth:`Redactor.text` on each text."""
    out = {}
    for i, t in enumerate(texts):
        text, n = redactor.text(t)
        if n:
            out[i] = text
    return out


def events_of(messages, fields=None):
    events = tuple(
        LogEvent(f"{i:056d}", 1714564800000 + i, m, fields[i] if fields else None)
        for i, m in enumerate(messages)
    )
    stream = LogStream(
        MessageType.DATA_MESSAGE,
        "123456789012",
        "/aws/lambda/checkout",
        "2024/05/01/[$LATEST]0a",
        ("all",),
        events,
    )
    return from_stream(stream)


# ------------------------------------------------------------------ each rule
REDACTION = {
    "email": (
        ["mail alice.smith+tag@example.co.uk now", "user=bob@mail-server.example.org;"],
        ["user@localhost", "@aws.region", "a@b.c", "me @ example.com"],
    ),
    "ipv4": (
        ["from 10.0.12.7:443", "ip=192.168.0.1.", "peer 255.255.255.255"],
        ["version 1.2.3", "1.2.3.4.5", "256.1.1.1", "took 12.5 ms", "01.02.03.04"],
    ),
    "ipv6": (
        [
            "src 2001:db8::8a2e:370:7334 ok",
            "fe80::1%eth0",
            "[::1]:8080",
            "2600:1f18:2a9e:e700:7f81:c0a3:8b2c:5d3e",
            "mapped 0:0:0:0:0:ffff:10.0.0.1 peer",
        ],
        [
            "at 10:23:45.123",
            "mac 00:1a:2b:3c:4d:5e",
            "std::vector<int>",
            "Foo::Bar",
            "a :: b",
            "1:2:3:4:5:6:7",
        ],
    ),
    "aws-access-key": (
        ["key AKIAIOSFODNN7EXAMPLE used", "ASIAY34FZKBOKMUTVV7A"],
        ["AKIAIOSFODNN7EXAMPL", "AKIAIOSFODNN7EXAMPLEX", "akiaiosfodnn7example", "AIDAIOSFODNN7EXAMPLE"],
    ),
    "aws-secret-key": (
        [
            "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            '{"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}',
            "SECRET_KEY :\t'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'",
        ],
        [
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",  # no name says it is a secret
            "secret_key=short",
            "sha1 2fd4e1c67a2d28fced849ee1bb76e7391b93eb12",
            "\u017fecret_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",  # long s: not the ASCII name
        ],
    ),
    "bearer": (
        [
            "Authorization: Bearer 0b79bab50daca910b000d4f1a2b675d604257e42",
            "bearer abc.def-ghi_jkl~mno+p/q=",
            "BEARER\t\t0b79bab50daca910b000d4f1a2b675d604257e42",
        ],
        [
            "the bearer of bad news",
            "Bearer short1",
            "bearer informationaboutthings",
            "BeArEr 0b79bab50daca910b000",
        ],
    ),
    "jwt": (
        [
            "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
        ],
        ["eyJhbGciOiJIUzI1NiJ9", "eyJ.eyJ.x", "xeyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."],
    ),
    "credit-card": (
        ["card 4111 1111 1111 1111 ok", "5500-0000-0000-0004", "4012888888881881", "amex 3782 822463 10005"],
        [
            "4111 1111 1111 1112",  # Luhn fails
            "ts 1714564800123",  # epoch milliseconds
            "id 1234567890123456",  # Luhn fails, first digit 1
            "4111-1111",
            "v 4111111111111111.5",
            "4111 1111-1111 1111",  # mixed separators
            "4" + "\u0661" * 15,  # Arabic-Indic digits are no card number
        ],
    ),
}
POSITIVES = [(rule, text) for rule, (positives, _) in REDACTION.items() for text in positives]
NEGATIVES = [(rule, text) for rule, (_, negatives) in REDACTION.items() for text in negatives]
NOISE = [
    "START RequestId: 8f507cfc-1a2b-4697-b07a-ac58fc914c95 Version: $LATEST\n",
    '{"level":"INFO","message":"order accepted","items":3,"latency_ms":667}\n',
    "[INFO]\t2024-05-01T12:00:00.123Z\t8f507cfc-1a2b-4697-b07a-ac58fc914c95\tFetched 10 rows in 220 ms\n",
    "REPORT RequestId: 8f507cfc-1a2b-4697-b07a-ac58fc914c95\tDuration: 667.13 ms\tMemory Size: 512 MB\t\n",
    "ünïcödé ✓ 中文 😀",
    "",
]


def test_every_rule_is_in_the_table():
    assert set(REDACTION) == set(RULE_NAMES) == set(RULES)


@pytest.mark.parametrize(("rule", "text"), POSITIVES)
def test_given_secret_then_redacted_with_its_rule_name(rule, text):
    out, hits = Redactor([rule]).text(text)
    assert hits >= 1
    assert f"[REDACTED:{rule}]" in out


@pytest.mark.parametrize(("rule", "text"), NEGATIVES)
def test_given_lookalike_then_left_alone(rule, text):
    assert Redactor([rule]).text(text) == (text, 0)


@pytest.mark.parametrize(("rule", "text"), POSITIVES)
def test_given_secret_among_other_lines_when_redacted_as_a_batch_then_as_text_by_text(backend, rule, text):
    texts = [*NOISE, text, *NOISE]
    alone = Redactor([rule])
    expected = alone.text(text)[0]
    assert f"[REDACTED:{rule}]" in expected
    assert alone.batch(texts) == {len(NOISE): expected}
    every = Redactor(["all"])
    assert every.batch(texts) == {len(NOISE): every.text(text)[0]}


@pytest.mark.parametrize(("rule", "text"), NEGATIVES)
def test_given_lookalike_among_other_lines_when_redacted_as_a_batch_then_left_alone(backend, rule, text):
    assert Redactor([rule]).batch([*NOISE, text, *NOISE]) == {}


@pytest.mark.parametrize(("rule", "text"), POSITIVES)
def test_given_each_match_of_a_rule_then_it_holds_the_rules_re2_trigger(rule, text):
    """The promise the google-re2 path relies on, checked on the match itself."""
    import re2

    r = RULES[rule]
    matches = [m[0] for m in r.pattern.finditer(text) if r.valid is None or r.valid(m[r.group] or "")]
    assert matches
    for found in matches:
        assert re2.search(r.re2_trigger, found.encode("ascii")) is not None, found


@pytest.mark.parametrize("batch", [False, True])
def test_given_redaction_then_exact_replacements(backend, batch):
    r = Redactor(["all"])
    cases = {
        "Authorization: Bearer 0b79bab50daca910b000d4f1a2b675d604257e42": (
            "Authorization: Bearer [REDACTED:bearer]"
        ),
        "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n": (
            "aws_secret_access_key=[REDACTED:aws-secret-key]\n"
        ),
        "peer ::ffff:10.0.0.1 and 10.0.0.2": "peer [REDACTED:ipv6] and [REDACTED:ipv4]",
        "pay 4111 1111 1111 1111 by bob@example.com": "pay [REDACTED:credit-card] by [REDACTED:email]",
        # one rule's match inside another's: the rule order decides (jwt before bearer)
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln": (
            "Authorization: Bearer [REDACTED:jwt]"
        ),
        "aws_secret_access_key=AKIAIOSFODNN7EXAMPLEAKIAIOSFODNN7EXAMPLE": (
            "aws_secret_access_key=[REDACTED:aws-secret-key]"
        ),
        "mail 4111111111111111@example.com": "mail [REDACTED:email]",
        "ünï bob@example.org ✓ 10.0.0.1": "ünï [REDACTED:email] ✓ [REDACTED:ipv4]",
        "é10.0.0.1 ébearer 0b79bab50daca910b000d4f1a2b675d604257e42": (
            "é[REDACTED:ipv4] ébearer [REDACTED:bearer]"  # ASCII rules: é is no word character
        ),
    }
    if batch:
        texts = list(cases)
        assert r.batch(texts) == {i: cases[t] for i, t in enumerate(texts)}
    else:
        assert {t: r.text(t)[0] for t in cases} == cases


def test_given_custom_pattern_with_group_then_only_the_group_replaced(backend):
    r = Redactor([], [r"password=(\S+)", r"sk_live_[0-9a-z]+"])
    text = "login password=hunter2 key sk_live_abc123"
    expected = "login password=[REDACTED:custom] key [REDACTED:custom]"
    assert r.text(text)[0] == expected
    assert r.batch(["nothing", text]) == {1: expected}


def test_given_custom_pattern_and_rules_then_the_rules_see_what_the_patterns_left(backend):
    r = Redactor(["ipv4", "aws-access-key"], [r"^id=", r"X$"])
    texts = ["id=10.0.0.1", "key AKIAIOSFODNN7EXAMPLEX", "plain 10.0.0.2", "none"]
    expected = {
        0: "[REDACTED:custom][REDACTED:ipv4]",
        1: "key [REDACTED:aws-access-key][REDACTED:custom]",  # the X that hid the key is gone
        2: "plain [REDACTED:ipv4]",
    }
    assert {i: r.text(t)[0] for i, t in enumerate(texts) if r.text(t)[1]} == expected
    assert r.batch(texts) == expected


def test_given_unknown_rule_then_config_error():
    with pytest.raises(ConfigError, match="unknown redaction rule"):
        Redactor(["emails"])


# ------------------------------------------------------------------ the batch path
def test_given_batch_then_same_as_text_by_text(backend):
    texts = [
        "nothing here",
        "mail bob@example.org from 10.0.0.1",
        "uuid 8f507cfc-1234-4697-5678-ac58fc914c95",
        "card 4111-1111-1111-1111",
        "key AKIAIOSFODNN7EXAMPLE",
        "ünïcode bob@example.org",
        "",
        "Bearer 0b79bab50daca910b000d4f1a2b675d604257e42",
    ]
    r = Redactor(["all"])
    assert r.batch(texts) == {
        1: "mail [REDACTED:email] from [REDACTED:ipv4]",
        3: "card [REDACTED:credit-card]",
        4: "key [REDACTED:aws-access-key]",
        5: "ünïcode [REDACTED:email]",
        7: "Bearer [REDACTED:bearer]",
    }


def test_given_a_trigger_running_into_the_next_text_then_the_next_texts_own_secret_is_still_found(backend):
    # Joined, "Bearer" + " AKIAIOSFODNN7EXAMPLE" is one bearer trigger covering the key's: the
    # search goes on at the start of the next text, not at the end of that hit
    texts = ["x Bearer", " AKIAIOSFODNN7EXAMPLE", "mail bob@", "example.org 10.0.0.", "1"]
    assert Redactor(["all"]).batch(texts) == {1: " [REDACTED:aws-access-key]"}
    assert Redactor(["bearer", "aws-access-key"]).batch(texts) == {1: " [REDACTED:aws-access-key]"}


def test_given_rare_trigger_byte_in_most_texts_then_batch_still_finds_every_match(backend):
    # "J" (what the jwt rule looks for first on the bytes.find path) in every text: past the first
    # few, that path searches for "eyJ" itself
    texts = ["JSON ok"] * 300 + ["token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"]
    assert Redactor(["jwt"]).batch(texts) == {300: "token [REDACTED:jwt]"}


def test_given_empty_batch_or_no_rules_then_nothing(backend):
    assert Redactor(["all"]).batch([]) == {}
    assert Redactor([]).batch(["bob@example.org"]) == {}
    assert Redactor(["all"]).batch(["", "", ""]) == {}


# Secrets, their near misses (one character short, wrong case, wrong neighbours), separators
# and non-ASCII text (other scripts' digits, case-folding look-alikes, emoji, a lone surrogate).
_PIECES = [
    "bob@example.org",
    "a@b.c",
    "@",
    "example.org",
    "10.0.0.1",
    "192.168.10.20",
    "256.1.1.1",
    "1.2.3",
    "::ffff:10.0.0.1",
    "fe80::1",
    "2001:db8:0:0:1:0:0:1",
    "1:2:3:4:5:6",
    ":",
    "::",
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "3782-822463-10005",
    "4111111111111111",
    "4111",
    "1111 ",
    "2026-11-23",
    "AKIAIOSFODNN7EXAMPLE",
    "AKIAIOSFODNN7EXAMPL",
    "akiaiosfodnn7example",
    "aws_secret_access_key=",
    "SecretAccessKey: '",
    "\u017fecret_key=",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "Bearer ",
    "BEARER\t",
    "0b79bab50daca910b000d4f1a2b675d604257e42",
    "informationaboutthings",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
    "eyJhbGciOiJIUzI1NiJ9.",
    "eyJ",
    "JSON",
    "J",
    " ",
    "-",
    ".",
    "=",
    '"',
    "\n",
    "ü",
    "é",
    "\u0661\u0662\u0663",  # Arabic-Indic digits
    "\u212a",  # Kelvin sign
    "中文",
    "😀",
    "\ud800",
    "x",
    "7",
]
_TEXTS = st.one_of(
    st.lists(st.sampled_from(_PIECES), max_size=8).map("".join),
    st.text(max_size=12),
)
_RULE_SETS = st.one_of(st.just(["all"]), st.lists(st.sampled_from(RULE_NAMES), min_size=1, unique=True))


@pytest.mark.parametrize("name", BACKENDS)
@given(texts=st.lists(_TEXTS, max_size=40), rules=_RULE_SETS, custom=st.sampled_from([(), (r"^x", r"==+")]))
def test_given_any_texts_when_redacted_as_a_batch_then_same_as_text_by_text(name, texts, rules, custom):
    r = Redactor(rules, custom)
    expected = reference(r, texts)
    with trigger_search(name):
        assert r.batch(texts) == expected


@given(st.lists(st.sampled_from(_PIECES), max_size=10).map("".join))
def test_given_any_text_then_every_redacted_match_holds_its_rules_re2_trigger(text):
    import re2

    for r in RULES.values():
        for m in r.pattern.finditer(text):
            if r.valid is None or r.valid(m[r.group] or ""):
                assert re2.search(r.re2_trigger, m[0].encode("ascii")) is not None, (r.name, m[0])


@pytest.mark.parametrize("name", BACKENDS)
def test_given_a_large_seeded_batch_then_same_as_text_by_text(name):
    rng = random.Random(13)
    texts = ["".join(rng.choice(_PIECES) for _ in range(rng.randrange(12))) for _ in range(5000)]
    r = Redactor(["all"])
    expected = reference(r, texts)
    assert len(expected) > 1000  # many candidates, many restarts of the search
    with trigger_search(name):
        assert r.batch(texts) == expected


# ------------------------------------------------------------------ google-re2 is optional
def run_python(code: str) -> str:
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def test_given_google_re2_not_importable_then_the_batch_falls_back_to_the_find_path():
    code = (
        "import sys\n"
        "sys.modules['re2'] = None  # import re2 raises ImportError\n"
        "from logstream.process import redact\n"
        "print(redact.re2_in_use(), redact.Redactor(['all']).batch(['none', 'mail bob@example.org', 'x']))"
    )
    assert run_python(code) == "False {1: 'mail [REDACTED:email]'}"


def test_given_no_redaction_then_google_re2_is_never_imported():
    code = (
        "import sys, logstream, logstream.cli, logstream.process\n"
        "from logstream.process import Pipeline, PipelineConfig, Redactor\n"
        "from logstream.testing import make_document\n"
        "from logstream import decode_log_stream\n"
        "stream = decode_log_stream(make_document(['bob@example.org 10.0.0.1']))\n"
        "Pipeline(PipelineConfig.from_env({'PARSE_MESSAGES': 'true'})).lines(stream)\n"
        "r = Redactor(['all'])\n"
        "r.text('bob@example.org')\n"
        "before = 're2' in sys.modules\n"
        "r.batch(['bob@example.org'])\n"
        "print(before, 're2' in sys.modules)"
    )
    assert run_python(code) == "False True"


# ------------------------------------------------------------------ events
def test_given_parsed_json_then_strings_inside_redacted_too(backend):
    message = '{"level":"INFO","user":"bob@example.org","ips":["10.0.0.1",{"x":"carol@example.org"}]}\n'
    events = redact_events(parse_events(events_of([message])), Redactor(["email", "ipv4"]))
    assert events[0].json == {
        "level": "INFO",
        "user": "[REDACTED:email]",
        "ips": ["[REDACTED:ipv4]", {"x": "[REDACTED:email]"}],
    }
    assert json.loads(events[0].message) == events[0].json


def test_given_json_escape_hiding_a_match_then_message_and_parsed_field_redacted(backend):
    message = '{"user":"bob\\u0040example.org", "n": 1}\n'
    events = redact_events(parse_events(events_of(["plain", message])), Redactor(["email"]))
    # the text has no "@", its string does: that string is written again with the replacement
    assert events[1].message == '{"user":"[REDACTED:email]", "n": 1}\n'
    assert events[1].json == {"user": "[REDACTED:email]", "n": 1}


def test_given_extracted_fields_then_values_redacted_but_system_fields_kept(backend):
    fields = [{"ip": "10.0.0.1", "@aws.region": "eu-west-1", "@aws.account": "123456789012"}]
    events = redact_events(events_of(["GET / from 10.0.0.1"], fields=fields), Redactor(["ipv4"]))
    assert events[0].extracted_fields == {
        "ip": "[REDACTED:ipv4]",
        "@aws.region": "eu-west-1",
        "@aws.account": "123456789012",
    }
    assert events[0].message == "GET / from [REDACTED:ipv4]"
