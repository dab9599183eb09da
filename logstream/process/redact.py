"""Redaction: secrets and personal data replaced by ``[REDACTED:<rule>]`` before anything leaves.

Rules (``REDACT=...``, ``all`` for every one):

================  ==========================================================================
rule              what is replaced
================  ==========================================================================
email             ``local@domain.tld`` addresses
ipv4              dotted-quad addresses, each octet 0-255, not part of a longer dotted number
ipv6              IPv6 addresses in every notation (``::`` compressed, embedded IPv4), checked
                  with :mod:`ipaddress`; MAC addresses and times such as ``10:23:45`` are not
aws-access-key    access key ids: ``AKIA``/``ASIA``/``ABIA``/``ACCA`` and 16 more of ``A-Z0-9``
aws-secret-key    40-character secret keys, where a name says so (``aws_secret_access_key=``,
                  ``"SecretAccessKey": "..."``): only the value is replaced
bearer            the token after ``Bearer`` (16+ characters with a digit or symbol)
jwt               JSON Web Tokens (``eyJ...`` header and payload, any signature)
credit-card       13-19 digit card numbers (contiguous, or 4-4-4-4[-3] / Amex 4-6-5 with spaces
                  or dashes) whose first digit is a card network's (2-6) and that pass Luhn
================  ==========================================================================

Custom patterns (``REDACT_PATTERNS``, newline-separated) are replaced as ``[REDACTED:custom]``;
a pattern with a capturing group replaces only the first group (``password=(\\S+)`` keeps
``password=``). Custom patterns run first, then the rules in the order above, except that jwt
runs before bearer and ipv6 before ipv4 (a bearer JWT and ``::ffff:10.0.0.1`` are replaced whole).

The rules match ASCII only (``\\d`` is ``0-9``, letters are ``A-Za-z``, case-insensitive names
ignore Unicode look-alikes such as U+017F): digits of other scripts are neither card numbers nor
addresses.

Each rule has a cheap test (a character or word it cannot match without, e.g. ``@``) so text
without candidates costs a few substring checks per rule. A batch (:meth:`Redactor.batch`) first
finds the texts that can hold a match: with google-re2 installed (``pip install
'logstream-cw[fast]'``) in one RE2 search for every enabled rule's trigger at once, otherwise in
a few ``bytes.find`` scans per rule; either way the result is :meth:`Redactor.text`'s.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import importlib
import ipaddress
import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import msgspec

from ..errors import ConfigError
from .events import ProcessedEvent

__all__ = [
    "RULES",
    "RULE_NAMES",
    "Rule",
    "Redactor",
    "custom_rule",
    "luhn_ok",
    "re2_in_use",
    "redact_events",
    "use_re2",
]


def luhn_ok(digits: str) -> bool:
    """The Luhn check of a string of digits.

    Example
    -------
    >>> luhn_ok("4111111111111111"), luhn_ok("4111111111111112")
    (True, False)
    """
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card_ok(text: str) -> bool:
    digits = text.replace(" ", "").replace("-", "")
    return 13 <= len(digits) <= 19 and luhn_ok(digits)


def _ipv6_ok(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


@dataclasses.dataclass(frozen=True, slots=True)
class Rule:
    """One redaction rule.

    ``triggers`` say which texts of a batch can hold a match (see :meth:`Redactor.batch`):
    ``(view, needle)`` pairs, the needle (bytes, or a bytes pattern) being something every match
    contains in that view of the batch: ``raw`` (the text, non-ASCII as ``?``), ``lower`` (the
    same, lower-cased), ``shape`` (digits as ``0``, other hex digits ``h``, space and ``-`` as
    ``-``, ``.`` and ``:`` kept, anything else ``_``) or ``upper`` (``A-Z0-9`` as ``U``, anything
    else ``_``). A third item, one byte every match contains that is rare in logs (``J`` of
    ``eyJ``), is looked for first in ``raw`` (a ``memchr``, far quicker than a search for a longer
    needle) and the needle only in the texts that hold it. A rule without triggers is tried on
    every text.

    ``re2_trigger`` says the same for the google-re2 path: an RE2 pattern (bytes; no lookarounds,
    backreferences or anchors) that every match contains in ``raw``. The enabled rules' triggers
    are searched as one alternation, and a text holding any of them is handed to every rule.

    Attributes
    ----------
    name : str
        Shown in the replacement, ``[REDACTED:<name>]``.
    pattern : re.Pattern
        What to find. With ``group`` > 0 only that group is replaced.
    might_match : Callable[[str], bool] | None
        A cheap test; text that fails it is not searched.
    valid : Callable[[str], bool] | None
        A check of each match (e.g. Luhn); matches that fail it are left alone.
    group : int
        Which group to replace (0: the whole match).
    triggers : tuple
        Where a match can be, batch-wise.
    re2_trigger : bytes
        Where a match can be, batch-wise, with google-re2 (empty: not known; the batch then uses
        ``triggers``).
    """

    name: str
    pattern: re.Pattern[str]
    might_match: Callable[[str], bool] | None = None
    valid: Callable[[str], bool] | None = None
    group: int = 0
    triggers: tuple[tuple[Any, ...], ...] = ()
    re2_trigger: bytes = b""

    @property
    def replacement(self) -> str:
        return f"[REDACTED:{self.name}]"

    def apply(self, text: str) -> tuple[str, int]:
        """``(text with matches replaced, number replaced)``."""
        if self.might_match is not None and not self.might_match(text):
            return text, 0
        if self.pattern.search(text) is None:  # the usual case: nothing to replace
            return text, 0
        if self.valid is None and self.group == 0:
            return self.pattern.subn(self.replacement.replace("\\", "\\\\"), text)
        replacement, group, valid = self.replacement, self.group, self.valid
        count = 0

        def repl(m: re.Match[str]) -> str:
            nonlocal count
            found = m[group]
            if found is None or (valid is not None and not valid(found)):
                return m[0]
            count += 1
            if group == 0:
                return replacement
            start, end = m.start(group) - m.start(), m.end(group) - m.start()
            whole = m[0]
            return whole[:start] + replacement + whole[end:]

        out = self.pattern.sub(repl, text)
        return out, count


_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_A = re.ASCII
# For the RE2 triggers: what \s is to the rules (RE2's own \s lacks \v), and an IPv6 group
_WS = rb"[\t\n\v\f\r ]"
_HEX4 = rb"[0-9A-Fa-f]{1,4}"

RULES: dict[str, Rule] = {
    r.name: r
    for r in (
        Rule(
            "jwt",
            re.compile(r"(?<![\w-])eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*", _A),
            lambda t: "eyJ" in t,
            triggers=(("raw", b"eyJ", b"J"),),
            re2_trigger=rb"eyJ[A-Za-z0-9_-]+\.eyJ",
        ),
        Rule(
            "bearer",
            re.compile(r"\b[Bb](?:earer|EARER)\s+((?=[A-Za-z]*[0-9._~+/-])[A-Za-z0-9._~+/-]{16,}=*)", _A),
            lambda t: "earer" in t or "EARER" in t,
            group=1,
            triggers=(("lower", b"bearer"),),
            re2_trigger=rb"[Bb](?:earer|EARER)" + _WS + rb"+[A-Za-z0-9._~+/-]{16}",
        ),
        Rule(
            "aws-access-key",
            re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])", _A),
            lambda t: "AKIA" in t or "ASIA" in t or "ABIA" in t or "ACCA" in t,
            triggers=(("upper", b"U" * 20),),
            re2_trigger=rb"A(?:KI|SI|BI|CC)A[A-Z0-9]{16}",
        ),
        Rule(
            "aws-secret-key",
            re.compile(
                r"(?i:aws_?)?(?i:secret_?(?:access_?)?key)[\"']?\s*[:=]\s*[\"']?"
                r"([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
                _A,
            ),
            lambda t: "ecret" in t or "ECRET" in t,
            group=1,
            triggers=(("lower", b"secret"),),
            re2_trigger=(
                rb"(?i:secret_?(?:access_?)?key)[\"']?" + _WS + rb"*[:=]" + _WS + rb"*[\"']?[A-Za-z0-9/+]{40}"
            ),
        ),
        Rule(
            "email",
            re.compile(
                # starts only where a run of local-part characters starts: linear on long runs
                r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
                r"(?![A-Za-z0-9-])",
                _A,
            ),
            lambda t: "@" in t,
            triggers=(("raw", b"@"),),
            re2_trigger=rb"[A-Za-z0-9._%+-]@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2}",
        ),
        Rule(
            "credit-card",
            re.compile(
                r"(?<![\d.-])[2-6](?:\d{12,18}"  # contiguous
                r"|\d{3}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{3})?"  # 4-4-4-4[-3]
                r"|\d{3}([ -])\d{6}\2\d{5})(?!\d|\.\d)",  # Amex 4-6-5; not a decimal
                _A,
            ),
            valid=_card_ok,
            triggers=(("shape", b"0" * 13), ("shape", b"0000-0000-0000-000"), ("shape", b"0000-000000-0000")),
            re2_trigger=(
                rb"[2-6](?:[0-9]{12}|[0-9]{3}[ -][0-9]{4}[ -][0-9]{4}[ -][0-9]{4}"
                rb"|[0-9]{3}[ -][0-9]{6}[ -][0-9]{5})"
            ),
        ),
        Rule(
            "ipv6",
            re.compile(
                r"(?<![\w:.])(?=[0-9A-Fa-f:]*[0-9A-Fa-f])(?:[0-9A-Fa-f]{0,4}:){2,7}"
                r"(?:[0-9A-Fa-f]{1,4}|" + _OCTET + r"(?:\." + _OCTET + r"){3})?(?![\w:]|\.\d)",
                _A,
            ),
            lambda t: "::" in t or t.count(":") >= 6,  # 8 groups, or 6 and an IPv4 address
            valid=_ipv6_ok,
            # a valid address has "::", or 8 groups (or 6 and an IPv4 address): 6 colons with 5
            # groups between them
            triggers=(("shape", re.compile(rb"::|:[0h]{1,4}:[0h]{1,4}:[0h]{1,4}:[0h]{1,4}:[0h]{1,4}:")),),
            re2_trigger=rb"::|:" + rb":".join([_HEX4] * 5) + rb":",
        ),
        Rule(
            "ipv4",
            re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\w|\.\d)", _A),
            lambda t: t.count(".") >= 3,
            triggers=(("shape", re.compile(rb"0\.0{1,3}\.0{1,3}\.0")),),
            re2_trigger=rb"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]",
        ),
    )
}
#: The rule names ``REDACT`` accepts (besides ``all``), in the order documented above.
RULE_NAMES = ("email", "ipv4", "ipv6", "aws-access-key", "aws-secret-key", "bearer", "jwt", "credit-card")


def custom_rule(pattern: str | re.Pattern[str]) -> Rule:
    """A ``REDACT_PATTERNS`` pattern as a rule named ``custom`` (first group only, if any)."""
    compiled = re.compile(pattern) if isinstance(pattern, str) else pattern
    return Rule("custom", compiled, group=1 if compiled.groups else 0)


class Redactor:
    """Applies rules, in order, to text and to the strings inside parsed JSON.

    Example
    -------
    >>> r = Redactor(["email", "ipv4"])
    >>> r.text("login alice@example.com from 10.1.2.3")
    ('login [REDACTED:email] from [REDACTED:ipv4]', 2)
    """

    def __init__(self, rules: Iterable[str] = (), patterns: Sequence[str | re.Pattern[str]] = ()) -> None:
        names = set(rules)
        if "all" in names:
            names = set(RULE_NAMES) | (names - {"all"})
        unknown = sorted(names - set(RULES))
        if unknown:
            raise ConfigError(
                f"unknown redaction rule(s) {', '.join(unknown)}; known: all, {', '.join(RULE_NAMES)}"
            )
        self.custom = tuple(custom_rule(p) for p in patterns)
        self.rules = self.custom + tuple(rule for name, rule in RULES.items() if name in names)

    def __bool__(self) -> bool:
        return bool(self.rules)

    def text(self, text: str) -> tuple[str, int]:
        """``(redacted text, number of replacements)``."""
        total = 0
        for rule in self.rules:
            text, n = rule.apply(text)
            total += n
        return text, total

    def batch(self, texts: Sequence[str]) -> dict[int, str]:
        """Redact many texts at once: ``{index: redacted text}`` for the texts that changed.

        The texts are joined and searched for the rules' triggers at C speed: with google-re2, one
        search for every rule's trigger at once, and a text holding one goes through every rule,
        as :meth:`text` would; without it, each rule's triggers are looked for with
        ``bytes.find`` and a rule is applied to the texts where one of its own was found. Either
        way a batch without secrets costs a few scans, not a regex per text and rule, and the
        result is :meth:`text`'s for each text. Custom patterns go text by text (they may use
        anchors), first.

        Example
        -------
        >>> Redactor(["email"]).batch(["no secrets here", "mail bob@example.org"])
        {1: 'mail [REDACTED:email]'}
        """
        out: dict[int, str] = {}
        if not texts:
            return out
        if self.custom:
            for i, t in enumerate(texts):
                for rule in self.custom:
                    t, n = rule.apply(t)
                    if n:
                        out[i] = t
            if out:  # the rules below see what the custom patterns left
                texts = [out.get(i, t) for i, t in enumerate(texts)]
        builtin = self.rules[len(self.custom) :]
        if not builtin:
            return out
        # Joined without a separator: a trigger spanning two texts only adds a candidate, and
        # every candidate is checked by the rules themselves. ASCII with "?": one byte per
        # character, and every match of a rule is ASCII (the rules are compiled with re.ASCII).
        raw = "".join(texts).encode("ascii", "replace")
        search = _re2_search(tuple(rule.re2_trigger for rule in builtin))
        if search is not None:
            self._apply_at(builtin, _candidates(search, raw, texts), texts, out)
            return out
        starts = _starts(texts)
        views: dict[str, bytes] = {"raw": raw}
        for rule in builtin:
            found: set[int] = set()
            for view_name, needle, *rare in rule.triggers:
                view = views.get(view_name)
                if view is None:
                    view = views[view_name] = _VIEWS[view_name](raw)
                if rare:
                    _locate_rare(raw.find, rare[0], view.find, needle, starts, found)
                elif isinstance(needle, bytes):
                    _locate(view.find, needle, starts, found)
                else:
                    _locate_pattern(needle.search, view, starts, found)
            if not rule.triggers:
                found = set(range(len(texts)))
            self._apply_at((rule,), sorted(found), texts, out)
        return out

    @staticmethod
    def _apply_at(
        rules: Sequence[Rule], indexes: Iterable[int], texts: Sequence[str], out: dict[int, str]
    ) -> None:
        for i in indexes:
            text = out.get(i, texts[i])
            changed = False
            for rule in rules:
                text, n = rule.apply(text)
                changed = changed or n > 0
            if changed:
                out[i] = text

    def value(self, obj: Any) -> Any:
        """Strings anywhere inside a JSON value redacted (keys and non-strings kept)."""
        return self.values([obj])[0]

    def values(self, objs: Sequence[Any]) -> list[Any]:
        """:meth:`value` of many JSON values at once: every string in them goes through one
        :meth:`batch`. Containers are copied, however deep (no recursion); the given values are
        left as they are."""
        out = list(objs)  # the root container: copied like every container below it
        holders: list[tuple[Any, Any]] = []  # (container, key) of each string, in order
        strings: list[str] = []
        stack: list[Any] = [out]
        while stack:
            node = stack.pop()
            for key, item in node.items() if isinstance(node, dict) else enumerate(node):
                if isinstance(item, str):
                    holders.append((node, key))
                    strings.append(item)
                elif isinstance(item, dict | list):
                    node[key] = copy = dict(item) if isinstance(item, dict) else list(item)
                    stack.append(copy)
        for i, text in self.batch(strings).items():
            node, key = holders[i]
            node[key] = text
        return out

    def json_object(self, obj: Any) -> Any:
        """A parsed JSON value redacted as a whole (see :meth:`json_objects`)."""
        return self.json_objects([obj])[0]

    def json_objects(self, objs: Sequence[Any]) -> list[Any]:
        """Parsed JSON values redacted as a whole: every string in them (:meth:`values`:
        escapes such as ``\\u0040`` or ``\\n`` no longer hide a match), then their compact JSON
        text, so rules that need a key (``"SecretAccessKey": "..."``, a custom
        ``"password":"(...)"``) see it too; if a custom pattern leaves that text unreadable,
        the strings alone. Each step is one :meth:`batch` for all the values."""
        out = self.values(objs)
        where = [i for i, obj in enumerate(out) if _encode(obj) is not None]
        texts = [_json_enc.encode(out[i]).decode() for i in where]
        for k, text in enumerate(_keeping_objects(self, texts, [isinstance(out[i], dict) for i in where])[0]):
            if text != texts[k]:
                value = _decode_redacted(text, out[where[k]])
                if value is not None:
                    out[where[k]] = value
        return out


def _locate(
    find: Callable[..., int], needle: Any, starts: list[int], found: set[int], start: int = 0
) -> None:
    """Add the index of every text holding ``needle`` (from ``start`` on); at most one search per text."""
    p = find(needle, start)
    while p >= 0:
        i = bisect.bisect_right(starts, p) - 1
        found.add(i)
        p = find(needle, starts[i + 1])


def _locate_pattern(search: Callable[..., Any], view: bytes, starts: list[int], found: set[int]) -> None:
    """:func:`_locate` with a pattern's ``search(view, pos)``."""
    p = 0
    while (m := search(view, p)) is not None:
        i = bisect.bisect_right(starts, m.start()) - 1
        found.add(i)
        p = starts[i + 1]


def _starts(texts: Sequence[str]) -> list[int]:
    """Where each text starts in their join, and the end."""
    return [0, *itertools.accumulate(map(len, texts))]


def _candidates(search: Callable[..., Any], raw: bytes, texts: Sequence[str]) -> list[int]:
    """The index of every text holding a trigger, in order: a hit in text ``i`` makes ``i`` a
    candidate and the search goes on at the start of text ``i + 1``, never at the end of the
    hit, which may cover (the start of) another rule's trigger in the next text."""
    found: list[int] = []
    m = search(raw, 0)
    if m is None:  # the usual batch: no offsets needed
        return found
    starts = _starts(texts)
    while m is not None:
        i = bisect.bisect_right(starts, m.start()) - 1
        found.append(i)
        m = search(raw, starts[i + 1])
    return found


# google-re2: the batch's trigger search, when installed (the `fast` extra). Imported on the
# first batch with a built-in rule, never by `import logstream`.
_re2_enabled = True
_re2_module: Any = None  # None: not tried yet; False: not importable


def use_re2(enabled: bool = True) -> None:
    """Use google-re2 for the batch trigger search when it is installed (the default), or not,
    e.g. to test the ``bytes.find`` path; results are the same either way.

    >>> use_re2(False); use_re2(True)
    """
    global _re2_enabled
    _re2_enabled = enabled


def re2_in_use() -> bool:
    """Whether :meth:`Redactor.batch` searches with google-re2 (importing it if need be)."""
    return _re2() is not None


def _re2() -> Any:
    global _re2_module
    if not _re2_enabled:
        return None
    if _re2_module is None:
        try:
            _re2_module = importlib.import_module("re2")
        except ImportError:  # not installed, or its extension cannot load here
            _re2_module = False
    return _re2_module or None


def _re2_search(triggers: tuple[bytes, ...]) -> Callable[..., Any] | None:
    """``search(raw, pos)`` of the triggers as one RE2 pattern, or None (no google-re2, or a rule
    without an RE2 trigger)."""
    if not all(triggers):
        return None
    re2 = _re2()
    if re2 is None:
        return None
    return _compile_re2(re2, triggers)


@functools.lru_cache(maxsize=16)
def _compile_re2(re2: Any, triggers: tuple[bytes, ...]) -> Callable[..., Any]:
    options = re2.Options()
    options.never_capture = True  # only where a trigger starts: RE2's DFA alone answers that
    options.log_errors = False  # nothing on stderr (the function's log) from the C++ library
    search: Callable[..., Any] = re2.compile(b"|".join(b"(?:" + t + b")" for t in triggers), options).search
    return search


def _locate_rare(
    find_rare: Callable[..., int],
    rare: bytes,
    find: Callable[..., int],
    needle: bytes,
    starts: list[int],
    found: set[int],
) -> None:
    """:func:`_locate`, looking for ``needle`` only in the texts that hold the byte ``rare``; where
    ``rare`` turns out common (more than one text in eight), the rest is searched for ``needle``
    itself."""
    limit = len(starts) // 8 + 16
    p = find_rare(rare)
    while p >= 0:
        i = bisect.bisect_right(starts, p) - 1
        end = starts[i + 1]
        if find(needle, starts[i], end) >= 0:
            found.add(i)
        limit -= 1
        if not limit:
            _locate(find, needle, starts, found, end)
            return
        p = find_rare(rare, end)


def _table(fn: Callable[[str], int]) -> bytes:
    return bytes(fn(chr(b)) for b in range(256))


_SHAPE = _table(
    lambda c: (
        48
        if "0" <= c <= "9"
        else 104
        if c in "abcdefABCDEF"
        else 45
        if c in " -"
        else ord(c)
        if c in ".:"
        else 95
    )
)
_UPPER = _table(lambda c: 85 if "A" <= c <= "Z" or "0" <= c <= "9" else 95)
_VIEWS: dict[str, Callable[[bytes], bytes]] = {
    "lower": bytes.lower,
    "shape": lambda raw: raw.translate(_SHAPE),
    "upper": lambda raw: raw.translate(_UPPER),
}


def redact_events(events: list[ProcessedEvent], redactor: Redactor) -> list[ProcessedEvent]:
    """Redact each event's message, its parsed fields (``json``, ``requestId``, ``time``) and the
    ``extractedFields`` values (the ``@aws.*`` system fields excepted), in place.

    A message without a match and without a backslash is left alone, its parsed fields too: they
    are pieces of it, searched already. Otherwise, when the message holds a JSON object (after
    any runtime prefix), that object is redacted as a whole (:meth:`Redactor.json_object`):
    escapes (``\\u0040``, ``\\/``, ``\\n`` before an address) hide nothing, and a secret named
    by its key leaves ``json`` as it leaves the message. If that finds more than the message's
    text did, the message's JSON is written again, compact, with the replacements.

    Example
    -------
    >>> from logstream.process.events import ProcessedEvent as E
    >>> ev = E("1", "/g", "s", [], "1", 0, '{"user":"bob@example.org"}', json={"user": "bob@example.org"})
    >>> redact_events([ev], Redactor(["email"]))[0].json
    {'user': '[REDACTED:email]'}
    >>> hidden = E("1", "/g", "s", [], "1", 0, '{"to":"bob\\\\u0040example.org"}')
    >>> redact_events([hidden], Redactor(["email"]))[0].message
    '{"to":"[REDACTED:email]"}'
    """
    texts = [ev.message for ev in events]
    changed = redactor.batch(texts)
    for i, message in changed.items():
        events[i].message = message
    todo = set(changed)
    joined = "".join(texts)
    if "\\" in joined:
        _locate(joined.find, "\\", _starts(texts), todo)
    if todo:
        _redact_parsed(events, sorted(todo), redactor, texts)
    text = redactor.text
    for ev in events:
        fields = ev.extracted_fields
        if fields and any(not k.startswith("@aws.") for k in fields):
            ev.extracted_fields = {k: v if k.startswith("@aws.") else text(v)[0] for k, v in fields.items()}
    return events


def _redact_parsed(
    events: list[ProcessedEvent], todo: list[int], redactor: Redactor, texts: list[str]
) -> None:
    """The events whose message had a match or holds an escape, from their original text:

    1. every JSON string literal (a key or a value, in a JSON object or in any text) is decoded
       and redacted as the string it stands for, so ``\\u0040``, ``\\/`` or ``\\n`` before an
       address hide nothing and a match never runs past its closing quote, and written back
       (minimally escaped) where that changed it; the others are written back minimally escaped
       too, so that
    2. the rules then see the text as its strings read (``"SecretAccessKey":"a/b..."``). When
       the message held a JSON object (from its first ``{``), a rule's replacements are kept
       only if that object still decodes: a match cut inside an escape never breaks it.

    If neither step replaced anything, the message stays as it came; otherwise it is the result,
    and ``json`` (when parsed) is its object. ``requestId`` and ``time`` are redacted too. Each
    step is one batch for all these events."""
    fields: list[str] = []
    owners: list[tuple[ProcessedEvent, str]] = []
    for i in todo:
        ev = events[i]
        for name in ("request_id", "time"):
            value = getattr(ev, name)
            if value is not None:
                fields.append(value)
                owners.append((ev, name))
    for j, value in redactor.batch(fields).items():
        ev, name = owners[j]
        setattr(ev, name, value)

    # 1. string literals holding an escape, decoded; 2. the rules over the texts as their strings
    # read, keeping a JSON message's object decodable. Where a rule had to be refused there (a
    # match that ran past a quote or cut an escape), every string literal of that text is
    # searched on its own first (so what the refused match was after is found where it stands).
    originals = [texts[i] for i in todo]
    starts = [text.find("{") for text in originals]
    is_json = [
        s >= 0 and isinstance(_decode(text[s:]), dict) for s, text in zip(starts, originals, strict=True)
    ]
    normal, found = _literal_pass(redactor, originals, set())
    results, refused = _keeping_objects(redactor, normal, is_json)
    if refused:
        again = sorted(refused)
        normal2, found2 = _literal_pass(redactor, [originals[n] for n in again], set(range(len(again))))
        results2, _ = _keeping_objects(redactor, normal2, [is_json[n] for n in again])
        for k, n in enumerate(again):
            normal[n], found[n], results[n] = normal2[k], found2[k], results2[k]
    # 3. a JSON message's object as compact text: a rule written for another spacing than the
    # message's ('"password":"(...)"' on '"password": "..."') sees it too
    compact: list[str] = []
    where: list[int] = []
    for n, result in enumerate(results):
        if is_json[n]:
            start = result.find("{")
            body = result[start:]
            obj = _decode(body)
            encoded = _encode(obj) if isinstance(obj, dict) else None
            if encoded is not None:
                compact.append(encoded)
                where.append(n)
    for k, text in enumerate(_keeping_objects(redactor, compact, [True] * len(compact))[0]):
        if text != compact[k]:
            n = where[k]
            result = results[n]
            start = result.find("{")
            body = result[start:]
            results[n] = result[:start] + text + body[len(body.rstrip(" \t\r\n")) :]
    for n, i in enumerate(todo):
        ev, result = events[i], results[n]
        if not found[n] and result == normal[n]:
            ev.message = texts[i]  # nothing to replace: the message as it came
            continue
        ev.message = result
        if ev.json is not None:
            obj = _decode_redacted(result[result.find("{") :], ev.json) if "{" in result else None
            ev.json = obj if isinstance(obj, dict) else redactor.value(ev.json)


def _literal_pass(redactor: Redactor, texts: list[str], every: set[int]) -> tuple[list[str], list[bool]]:
    """Each text with its JSON string literals redacted as the strings they stand for: those
    holding an escape (every literal of the texts in ``every``), one batch for all. Returns the
    texts as their strings read (the literals that held an escape or changed written again,
    minimally escaped) and whether anything was replaced in each."""
    strings: list[str] = []
    spans: list[tuple[int, int, int, bool]] = []  # (text, start, end, escaped) of each literal
    for n, text in enumerate(texts):
        if '"' not in text or ("\\" not in text and n not in every):
            continue
        for m in _STRING_LITERAL.finditer(text):
            literal = m.group()
            escaped = "\\" in literal
            if escaped:
                value = _decode(literal)
                if not isinstance(value, str):
                    continue
            elif n in every:
                value = literal[1:-1]  # nothing to decode
            else:
                continue
            strings.append(value)
            spans.append((n, m.start(), m.end(), escaped))
    replaced = redactor.batch(strings)
    found = [False] * len(texts)
    for k in replaced:
        found[spans[k][0]] = True
    normal = list(texts)
    edits: dict[int, list[tuple[int, int, str]]] = {}
    for k, (n, start, end, escaped) in enumerate(spans):
        if escaped or k in replaced:
            edits.setdefault(n, []).append(
                (start, end, _json_enc.encode(replaced.get(k, strings[k])).decode())
            )
    for n, changes in edits.items():
        text, last = normal[n], 0
        out: list[str] = []
        for start, end, literal in changes:
            out += (text[last:start], literal)
            last = end
        out.append(text[last:])
        normal[n] = "".join(out)
    return normal, found


def _keeping_objects(redactor: Redactor, texts: list[str], is_json: list[bool]) -> tuple[list[str], set[int]]:
    """The texts redacted (one batch); where a text held a JSON object, a rule's replacements
    are kept only if the object still decodes (rule by rule, for the texts a batch broke).
    Returns the texts and which of them had a replacement refused."""
    out = list(texts)
    refused: set[int] = set()
    for n, result in redactor.batch(texts).items():
        # (the original is decoded again here: how deep msgspec may go depends on the stack)
        if is_json[n] and not _decodes_object(result) and _decodes_object(texts[n]):
            result = texts[n]
            for rule in redactor.rules:
                new, hits = rule.apply(result)
                if hits and _decodes_object(new):
                    result = new
                elif hits:
                    refused.add(n)
        out[n] = result
    return out, refused


def _encode(obj: Any) -> str | None:
    try:
        return _json_enc.encode(obj).decode()
    except RecursionError:
        return None


_STRING_LITERAL = re.compile(r'"[^"\\\n]*(?:\\.[^"\\\n]*)*"')  # unrolled: runs of plain characters at C speed


def _decode(text: str) -> Any:
    """JSON text decoded, or None where it is not JSON (or nests too deep)."""
    try:
        return msgspec.json.decode(text)
    except (msgspec.DecodeError, RecursionError):
        return None


def _decode_redacted(text: str, like: Any) -> Any:
    """:func:`_decode` of a redacted JSON text whose value, before redaction, was ``like``.

    Two keys redacted to the same text (``{"10.0.0.1": ..., "10.0.0.2": ...}`` with ``ipv4``)
    would leave one value in a dict: when the decoded value has fewer keys than ``like``, the
    text is decoded again keeping every value, a repeated redacted key numbered from its second
    occurrence (``[REDACTED:ipv4]#2``). Other repeated keys keep JSON's rule (the last one
    wins), as when the message was parsed."""
    value = _decode(text)
    if value is None or _key_count(value) == _key_count(like):
        return value
    import json  # only here: the stdlib parser can see every key of an object

    try:
        return json.loads(text, object_pairs_hook=_numbered_keys)
    except (ValueError, RecursionError):
        return value


def _numbered_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out and "[REDACTED:" in key:
            n = 2
            while f"{key}#{n}" in out:
                n += 1
            key = f"{key}#{n}"
        out[key] = value
    return out


def _key_count(value: Any) -> int:
    """The number of keys in every object inside a JSON value (no recursion)."""
    count, stack = 0, [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            count += len(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return count


def _decodes_object(text: str) -> bool:
    start = text.find("{")
    return start >= 0 and isinstance(_decode(text[start:]), dict)


_json_enc = msgspec.json.Encoder()
