"""One validated configuration for the processing pipeline, from explicit arguments, environment
variables (the forwarder, the Firehose transform) or command-line flags (``logstream decode``).

==================  ======================  =======  ==============================================
variable            flag                    default  what it does
==================  ======================  =======  ==============================================
PARSE_MESSAGES      --parse                 false    add level, requestId, time, json (and enrich)
JOIN_MULTILINE      --join-multiline        false    join stack traces / continuation lines
MULTILINE_START     --multiline-start RE    (none)   a new event starts where RE matches; implies
                                                     JOIN_MULTILINE
INCLUDE_PATTERN     --include RE            (none)   keep only events whose message matches RE
EXCLUDE_PATTERN     --exclude RE            (none)   drop events whose message matches RE
MIN_LEVEL           --min-level LEVEL       (none)   drop events below LEVEL (events without a
                                                     level are kept)
SAMPLE_RATE         --sample RATE           1        keep RATE (0 < RATE <= 1) of the events, by
                                                     event id; never platform lines or WARN+
REDACT              --redact RULES          (none)   comma-separated rules, or ``all``
REDACT_PATTERNS     --redact-pattern RE     (none)   more patterns (newline-separated in the
                                                     variable; the flag repeats)
ENRICH              --enrich                =parse   add region, functionName, functionVersion
TAGS                --tag K=V               (none)   ``k=v,k2=v2`` (the flag repeats) -> ``tags``
AWS_REGION          (none)                  (none)   the region when extractedFields has none
==================  ======================  =======  ==============================================

A value that would make a setting do nothing, or drop everything, is an error too: an
INCLUDE_PATTERN, EXCLUDE_PATTERN or MULTILINE_START that matches at the start of any text (an
empty alternative such as ``error|``, ``.*``, ``()``: it keeps, drops or starts every event), a
redaction pattern that matches the empty string, a tag key given twice.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..errors import ConfigError
from ..parsers.lambda_lines import LEVELS, normalize_level
from .redact import RULE_NAMES, Redactor

__all__ = ["PipelineConfig", "ENV_NAMES", "FLAG_NAMES"]

#: option -> environment variable
ENV_NAMES = {
    "parse": "PARSE_MESSAGES",
    "join_multiline": "JOIN_MULTILINE",
    "multiline_start": "MULTILINE_START",
    "include": "INCLUDE_PATTERN",
    "exclude": "EXCLUDE_PATTERN",
    "min_level": "MIN_LEVEL",
    "sample": "SAMPLE_RATE",
    "redact": "REDACT",
    "redact_patterns": "REDACT_PATTERNS",
    "enrich": "ENRICH",
    "tags": "TAGS",
}
#: option -> (argparse ``dest``, flag as the user typed it)
FLAG_NAMES = {
    "parse": ("parse", "--parse"),
    "join_multiline": ("join_multiline", "--join-multiline"),
    "multiline_start": ("multiline_start", "--multiline-start"),
    "include": ("include", "--include"),
    "exclude": ("exclude", "--exclude"),
    "min_level": ("min_level", "--min-level"),
    "sample": ("sample", "--sample"),
    "redact": ("redact", "--redact"),
    "redact_patterns": ("redact_pattern", "--redact-pattern"),
    "enrich": ("enrich", "--enrich"),
    "tags": ("tag", "--tag"),
}

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """What the pipeline does; every stage is off unless set here.

    Patterns may be given as strings (compiled here); a bad value raises :class:`ConfigError`.
    Prefer :meth:`from_env` and :meth:`from_flags`, whose errors name the variable or flag.

    Attributes
    ----------
    parse : bool
        Lambda line parsing (``level``, ``requestId``, ``time``, ``json``).
    join_multiline : bool
        Multi-line joining (on as well when ``multiline_start`` is set).
    multiline_start : re.Pattern | None
        Where a new event starts (``re.match``); ``None``: the built-in continuation rules.
    include, exclude : re.Pattern | None
        ``re.search`` on the message.
    min_level : str | None
        One of TRACE, DEBUG, INFO, WARN, ERROR, FATAL (aliases such as WARNING accepted).
    sample_rate : float
        0 < rate <= 1; 1 keeps everything.
    redact : tuple[str, ...]
        Rule names, or ``("all",)``.
    redact_patterns : tuple[re.Pattern, ...]
        Custom redaction patterns.
    enrich : bool | None
        ``None``: on when ``parse`` is.
    tags : Mapping[str, str] | None
    region : str | None
        The region for events whose ``extractedFields`` do not carry ``@aws.region``.

    Example
    -------
    >>> cfg = PipelineConfig.from_env({"PARSE_MESSAGES": "true", "SAMPLE_RATE": "0.25"})
    >>> cfg.parse, cfg.sample_rate, cfg.enriches
    (True, 0.25, True)
    >>> PipelineConfig().enabled
    False
    """

    parse: bool = False
    join_multiline: bool = False
    multiline_start: re.Pattern[str] | None = None
    include: re.Pattern[str] | None = None
    exclude: re.Pattern[str] | None = None
    min_level: str | None = None
    sample_rate: float = 1.0
    redact: tuple[str, ...] = ()
    redact_patterns: tuple[re.Pattern[str], ...] = ()
    enrich: bool | None = None
    tags: Mapping[str, str] | None = None
    region: str | None = None

    def __post_init__(self) -> None:
        fix = object.__setattr__
        for name in ("multiline_start", "include", "exclude"):
            value = getattr(self, name)
            if value is not None:
                fix(self, name, _selective(_regex(value, name), name, name))
        fix(
            self,
            "redact_patterns",
            tuple(_redact_pattern(p, "redact_patterns") for p in self.redact_patterns),
        )
        if self.multiline_start is not None:
            fix(self, "join_multiline", True)
        if self.min_level is not None:
            fix(self, "min_level", _level(self.min_level, "min_level"))
        fix(self, "sample_rate", _rate(self.sample_rate, "sample_rate"))
        fix(self, "redact", tuple(self.redact))
        Redactor(self.redact)  # unknown rule names fail here, not on the first event
        if self.tags is not None:
            fix(self, "tags", dict(self.tags) or None)

    @property
    def enriches(self) -> bool:
        """Enrichment is on: asked for, or following ``parse`` when not said."""
        return self.parse if self.enrich is None else self.enrich

    @property
    def enabled(self) -> bool:
        """Any stage is on (when not, the pipeline's output is ``logstream decode``'s)."""
        return bool(
            self.parse
            or self.join_multiline
            or self.include is not None
            or self.exclude is not None
            or self.min_level is not None
            or self.sample_rate < 1.0
            or self.redact
            or self.redact_patterns
            or self.enriches
            or self.tags
        )

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_env(cls, env: Mapping[str, str], *, region: str | None = None) -> PipelineConfig:
        """The configuration the variables in ``env`` describe (``os.environ`` in a handler).

        ``region`` defaults to ``AWS_REGION`` (set by Lambda), then ``AWS_DEFAULT_REGION``.
        Empty variables count as unset. Errors name the variable and its value.

        Example
        -------
        >>> PipelineConfig.from_env({"SAMPLE_RATE": "2"})
        Traceback (most recent call last):
        ...
        logstream.errors.ConfigError: SAMPLE_RATE='2': expected a number with 0 < rate <= 1
        """
        raw: dict[str, Any] = {}
        for option, var in ENV_NAMES.items():
            value = env.get(var)
            if value is not None and value.strip() != "":
                raw[option] = value
        if "redact_patterns" in raw:
            raw["redact_patterns"] = [p for p in raw["redact_patterns"].splitlines() if p.strip()]
        region = region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None
        return _build(raw, lambda option: ENV_NAMES[option], region)

    @classmethod
    def from_flags(cls, args: Any, *, region: str | None = None) -> PipelineConfig:
        """The configuration of parsed command-line flags (an ``argparse.Namespace`` with the
        ``dest`` names of :data:`FLAG_NAMES`; missing attributes count as not given). ``--redact``,
        ``--redact-pattern`` and ``--tag`` may be given as lists (``action="append"``).

        Example
        -------
        >>> import argparse
        >>> ns = argparse.Namespace(parse=True, min_level="warning", tag=["team=payments"])
        >>> cfg = PipelineConfig.from_flags(ns)
        >>> cfg.min_level, dict(cfg.tags)
        ('WARN', {'team': 'payments'})
        """
        raw: dict[str, Any] = {}
        for option, (dest, _flag) in FLAG_NAMES.items():
            value = getattr(args, dest, None)
            if value is not None and value is not False and value != [] and value != "":
                raw[option] = value
        return _build(raw, lambda option: FLAG_NAMES[option][1], region or getattr(args, "region", None))


def _build(raw: Mapping[str, Any], name_of: Callable[[str], str], region: str | None) -> PipelineConfig:
    def named(option: str) -> str:
        return name_of(option)

    parse = _bool(raw.get("parse"), named("parse"))
    join = _bool(raw.get("join_multiline"), named("join_multiline"))
    start = _pattern(raw, "multiline_start", named)
    if start is not None and join is False:
        raise ConfigError(
            f"{named('multiline_start')} is set but {named('join_multiline')} is false: "
            "a start pattern only matters when joining (unset one of them)"
        )
    include = _pattern(raw, "include", named)
    exclude = _pattern(raw, "exclude", named)
    min_level = _level(raw["min_level"], named("min_level")) if "min_level" in raw else None
    rate = _rate(raw["sample"], named("sample")) if "sample" in raw else 1.0
    redact = _rules(raw.get("redact"), named("redact"))
    patterns = tuple(
        _redact_pattern(p, f"{named('redact_patterns')} pattern {i}")
        for i, p in enumerate(_items(raw.get("redact_patterns")), 1)
    )
    enrich = _bool(raw.get("enrich"), named("enrich"))
    tags = _tags(raw.get("tags"), named("tags"))
    return PipelineConfig(
        parse=bool(parse),
        join_multiline=bool(join) or start is not None,
        multiline_start=start,
        include=include,
        exclude=exclude,
        min_level=min_level,
        sample_rate=rate,
        redact=redact,
        redact_patterns=patterns,
        enrich=enrich,
        tags=tags,
        region=region,
    )


def _items(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def _bool(value: Any, name: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"{name}={value!r}: expected true or false")


def _regex(value: Any, name: str) -> re.Pattern[str]:
    if isinstance(value, re.Pattern):
        return value
    try:
        return re.compile(str(value))
    except re.error as err:
        where = f" at position {err.pos}" if err.pos is not None else ""
        raise ConfigError(f"{name}={value!r}: not a valid regular expression ({err.msg}{where})") from None


def _pattern(raw: Mapping[str, Any], option: str, named: Callable[[str], str]) -> re.Pattern[str] | None:
    if option not in raw:
        return None
    return _selective(_regex(raw[option], named(option)), option, named(option))


#: What a pattern that matches at the start of any text would do, per option.
_EVERY = {
    "include": "so it would keep every event",
    "exclude": "so it would drop every event",
    "multiline_start": "so every line would start an event and none would be joined",
}


def _selective(pattern: re.Pattern[str], option: str, name: str) -> re.Pattern[str]:
    """``pattern``, unless it matches at the start of any text whatever the text holds (then
    ``re.search`` and ``re.match`` find it in every message): a ConfigError naming ``name``."""
    if _matches_at_any_start(pattern):
        raise ConfigError(
            f"{name}={pattern.pattern!r}: matches at the start of any text (it can match nothing there, "
            f"e.g. an empty alternative), {_EVERY[option]}"
        )
    return pattern


def _matches_at_any_start(pattern: re.Pattern[str]) -> bool:
    """True when ``pattern`` matches the empty string at the start of every text: it can match
    nothing with no condition but ``^``/``\\A`` (``a|``, ``x*``, ``()``, ``.*``, ``^``). Lookarounds,
    ``$`` and ``\\b`` depend on the text: such patterns are taken as selective. Read from
    Python's own parse of the pattern; if that module is not there, nothing is refused."""
    try:
        parser: Any = importlib.import_module("re._parser")
        items = parser.parse(pattern.pattern, pattern.flags)
    except Exception:  # noqa: BLE001 - another Python's internals: no check rather than a wrong one
        return False
    return _nullable(items)


_REPEATS = frozenset({"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"})
_AT_START = frozenset({"AT_BEGINNING", "AT_BEGINNING_STRING"})


def _nullable(items: Iterable[tuple[Any, Any]]) -> bool:
    """Whether a parsed (sub)pattern matches the empty string at the start of any text."""
    for op, arg in items:
        kind = getattr(op, "name", "")
        if kind in _REPEATS:
            if arg[0] and not _nullable(arg[2]):
                return False
        elif kind == "SUBPATTERN":
            if not _nullable(arg[-1]):
                return False
        elif kind == "ATOMIC_GROUP":
            if not _nullable(arg):
                return False
        elif kind == "BRANCH":
            if not any(_nullable(branch) for branch in arg[1]):
                return False
        elif kind == "AT":
            if getattr(arg, "name", "") not in _AT_START:
                return False
        else:  # a character, a class, a backreference, a lookaround: depends on the text
            return False
    return True


def _redact_pattern(value: Any, name: str) -> re.Pattern[str]:
    pattern = _regex(value, name)
    if pattern.search("") is not None:  # "x*": a replacement between every two characters
        raise ConfigError(f"{name}={pattern.pattern!r}: matches the empty string, so it would redact nothing")
    return pattern


def _level(value: Any, name: str) -> str:
    level = normalize_level(value)
    if level is None:
        raise ConfigError(f"{name}={value!r}: expected one of {', '.join(LEVELS)}")
    return level


def _rate(value: Any, name: str) -> float:
    try:
        rate = float(value)
    except (TypeError, ValueError):
        rate = math.nan
    if not 0.0 < rate <= 1.0:  # also false for nan
        raise ConfigError(f"{name}={value!r}: expected a number with 0 < rate <= 1")
    return rate


def _rules(value: Any, name: str) -> tuple[str, ...]:
    names: list[str] = []
    for item in _items(value):
        for part in item.split(","):
            part = part.strip().lower()
            if part and part not in names:
                names.append(part)
    unknown = [n for n in names if n != "all" and n not in RULE_NAMES]
    if unknown:
        raise ConfigError(
            f"{name}={value if isinstance(value, str) else ','.join(_items(value))!r}: unknown rule(s) "
            f"{', '.join(unknown)}; expected all or any of {', '.join(RULE_NAMES)}"
        )
    return tuple(names)


def _tags(value: Any, name: str) -> dict[str, str] | None:
    tags: dict[str, str] = {}
    for item in _items(value):
        for part in _split_pairs(item):
            key, sep, val = part.partition("=")
            key, val = key.strip(), val.strip()
            if not sep or not key:
                raise ConfigError(f"{name}: {part.strip()!r} is not key=value")
            if key in tags:
                raise ConfigError(f"{name}: key {key!r} given twice ({tags[key]!r} and {val!r})")
            tags[key] = val
    return tags or None


def _split_pairs(item: str) -> Iterable[str]:
    return (p for p in item.split(",") if p.strip())
