"""Form fields generated from a template's parameter declarations and from a gate's ``input_schema``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

KIND_BY_TYPE = {"string": "text", "integer": "integer", "number": "number", "boolean": "boolean", "array": "json", "object": "json"}


@dataclass
class Field:
    """One input of a generated form; ``kind`` tells the browser how to turn its text into a JSON value."""

    name: str
    kind: str  # text, password, integer, number, boolean, select, json
    required: bool = False
    value: str = ""
    checked: bool = False
    options: list[str] = field(default_factory=list)
    description: str = ""
    type: str = "string"
    minimum: Any = None
    maximum: Any = None
    pattern: str = ""
    has_default: bool = False


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _field(name: str, decl: Mapping[str, Any], *, required: bool, secret: bool = False) -> Field:
    """The field of one declaration (a parameter or a JSON Schema property)."""
    kind_of = str(decl.get("type") or "string")
    kind = KIND_BY_TYPE.get(kind_of, "json")
    default = decl.get("default")
    enum = decl.get("enum")
    if isinstance(enum, list) and enum and kind in ("text", "integer", "number"):
        kind = "select"
    elif secret and kind == "text":
        kind = "password"
    return Field(name=name, kind=kind, required=required, type=kind_of,
                 value="" if secret else _text(default), checked=default is True,
                 options=[_text(v) for v in enum or ()] if kind == "select" else [],
                 description=str(decl.get("description") or ""), minimum=decl.get("minimum"), maximum=decl.get("maximum"),
                 pattern=str(decl.get("pattern") or ""), has_default="default" in decl)


def param_fields(declarations: Mapping[str, Any]) -> list[Field]:
    """The run form of a template: one field per declared parameter (secrets as password fields, never prefilled)."""
    out = []
    for name, decl in declarations.items():
        if not isinstance(decl, Mapping):
            continue
        required = bool(decl.get("required")) and "default" not in decl
        out.append(_field(name, decl, required=required, secret=bool(decl.get("secret"))))
    return out


def schema_fields(schema: Any) -> list[Field]:
    """The data form of a gate: one field per property of an object ``input_schema``; else one JSON field for all."""
    if not isinstance(schema, Mapping) or not schema:
        return []
    props = schema.get("properties")
    if schema.get("type", "object") != "object" or not isinstance(props, Mapping) or not props:
        return [Field(name="", kind="json", description="the decision's data, as JSON")]
    required = set(schema.get("required") or [])
    return [_field(name, decl if isinstance(decl, Mapping) else {}, required=name in required) for name, decl in props.items()]
