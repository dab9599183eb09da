"""``sam-template.yaml`` as data: CloudFormation's short tags read as their long form
(``!Ref x`` -> ``{"Ref": "x"}``, ``!Sub s`` -> ``{"Fn::Sub": "s"}``, ``!Condition c`` ->
``{"Condition": "c"}``), with a safe loader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


class _Loader(yaml.SafeLoader):
    pass


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_Loader.add_multi_constructor("!", _tag)


def load_template(path: Path = ROOT / "sam-template.yaml") -> dict[str, Any]:
    data = yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506 - a safe loader subclass
    assert isinstance(data, dict)
    return data
