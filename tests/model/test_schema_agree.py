"""The two schema validators agree: the compiled yes/no check (fastjsonschema, draft-07 over the schema
with its ``$ref``s inlined) accepts exactly the documents the reference (jsonschema, 2020-12) accepts.

Documents are generated from each shipped schema: mostly shaped by it (so that valid documents and
near misses are both common), with wrong types, unknown keys, values at the bounds, integral floats,
booleans where numbers go, duplicates and pattern misses mixed in.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workflow_cli.model.schema import _inline_refs, _validator, available_schemas, is_valid, load_schema

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from([0.0, 1.0, 2.5, -1.5]),
                    st.sampled_from(["", "x", "1abc", "a b", "{{ params.x }}", "-x", "é"]))
ANY_JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(st.sampled_from(["a", "x", "name"]), inner, max_size=2)),
                        max_leaves=4)


def _merged(node: dict[str, Any], draw: Any) -> dict[str, Any]:
    """``node`` with one branch of each oneOf/anyOf and every allOf/then part folded in (a guess at a fit)."""
    out = {k: v for k, v in node.items() if k not in ("oneOf", "anyOf", "allOf", "if", "then")}
    for key in ("oneOf", "anyOf"):
        if key in node:
            branch = draw(st.sampled_from(node[key]))
            out = {**out, **_merged(branch, draw)} if isinstance(branch, dict) else out
    for part in [*node.get("allOf", []), node.get("then", {})]:
        if isinstance(part, dict) and draw(st.booleans()):
            part = _merged(part, draw)
            props = {**out.get("properties", {}), **part.get("properties", {})}
            out = {**out, **{k: v for k, v in part.items() if k != "properties"}, "properties": props}
    return out


class Gen:
    """Draws values for schema nodes; ``noise`` is the chance in 1,000 that a choice goes wrong."""

    def __init__(self, draw: Any, noise: int) -> None:
        self.draw, self.noise = draw, noise

    def odd(self) -> bool:
        """Whether this choice is a deliberate miss."""
        return bool(self.noise) and self.draw(st.integers(0, 999)) < self.noise

    def string(self, node: dict[str, Any]) -> str:
        if "pattern" in node and not self.odd():
            return self.draw(st.from_regex(node["pattern"], fullmatch=True).filter(lambda s: 0 < len(s) < 30))
        pool = ["", "a", "build", "1x", "x-y", "A_b", "ré", "{{ x }}"] if self.odd() else ["a", "build", "x_y", "step-2"]
        return self.draw(st.sampled_from(pool))

    def number(self, node: dict[str, Any], integer: bool) -> float | int:
        low = node.get("minimum", node.get("exclusiveMinimum", -2) + (1 if "exclusiveMinimum" in node else 0))
        value = low + self.draw(st.integers(0, 3))
        if "maximum" in node:
            value = min(value, node["maximum"])
        if self.odd():
            bounds = [node[k] for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum") if k in node] or [0]
            value = self.draw(st.sampled_from(bounds)) + self.draw(st.sampled_from([-1, 0, 1, 0.5]))
        return self.draw(st.sampled_from([value, float(value)])) if (self.odd() or not integer) else int(value)

    def object(self, node: dict[str, Any], depth: int) -> dict[str, Any]:
        props = node.get("properties", {})
        required = [k for k in node.get("required", []) if not self.odd()]
        optional = self.draw(st.lists(st.sampled_from(sorted(props)), max_size=4, unique=True)) if props else []
        out = {k: self.value(props.get(k, {}), depth + 1) for k in dict.fromkeys(required + optional)}
        extra, names = node.get("additionalProperties"), node.get("propertyNames", {})
        count = self.draw(st.integers(0, 2)) if isinstance(extra, dict) or extra is None else int(self.odd())
        for _ in range(count):
            key = self.string(names) if names else self.draw(st.sampled_from(["extra", "retyr", "t1", "build"]))
            out[key] = self.value(extra if isinstance(extra, dict) else {}, depth + 1)
        return out

    def value(self, node: Any, depth: int = 0) -> Any:
        """A value for schema ``node``: of its shape unless a choice goes wrong."""
        if not isinstance(node, dict) or depth > 8 or self.odd():
            return self.draw(ANY_JSON)
        node = _merged(node, self.draw)
        if "const" in node and not self.odd():
            return node["const"]
        if "enum" in node and not self.odd():
            return self.draw(st.sampled_from(node["enum"]))
        types = node.get("type") or self.draw(st.sampled_from(["object", "string", "array", "integer"]))
        kind = self.draw(st.sampled_from(types if isinstance(types, list) else [types]))
        if kind == "object":
            return self.object(node, depth)
        if kind == "array":
            items = [self.value(node.get("items", {}), depth + 1) for _ in range(self.draw(st.integers(0, 3)))]
            return items + items[:1] if items and self.odd() else items  # a duplicate
        if kind == "string":
            return self.string(node)
        if kind in ("integer", "number"):
            return self.number(node, kind == "integer")
        return self.draw(st.booleans()) if kind == "boolean" else None


@st.composite
def documents(draw: Any, name: str) -> Any:
    schema = load_schema(name)
    noise = draw(st.sampled_from([0, 0, 5, 20, 80]))
    return Gen(draw, noise).value(_inline_refs(schema, schema.get("$defs", {})))


@pytest.mark.parametrize("name", available_schemas())
def test_the_compiled_check_and_jsonschema_agree(name: str) -> None:
    reference = _validator(name)
    seen = {True: 0, False: 0}

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(documents(name))
    def agree(doc: Any) -> None:
        expected = reference.is_valid(doc)
        seen[expected] += 1
        assert is_valid(doc, name) == expected, f"{name}: the validators disagree on {json.dumps(doc)[:2000]}"

    agree()
    assert seen[True] > 10 and seen[False] > 10, seen  # both kinds of document were generated
