"""The shipped JSON Schemas and their errors translated into path-located Issues.

``schema_issues`` reports *all* problems at once, sorted by path, one per path, in short human
words: ``tasks.build.retyr: unknown field 'retyr' (did you mean 'retry'?)``. A sub-schema may carry
an ``errorMessage`` (the ajv-errors convention) to replace the generic wording of its errors.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any, cast

from workflow_cli.errors import Issue, did_you_mean

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

JsonPath = tuple[str | int, ...]

_TASK_ID_RULE = "letters, digits, _ and -; must not start with a digit or -"
_JSON_TYPES = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
)
_BOUNDS = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}


@lru_cache(maxsize=None)
def load_schema(name: str = "workflow-2.0.0") -> dict[str, Any]:
    """Return the packaged JSON Schema ``name`` (``workflow-2.0.0``, ``config`` or ``agents``)."""
    text = (files("workflow_cli.model") / "schema" / f"{name}.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def available_schemas() -> list[str]:
    """Names of the shipped schemas, for ``workflow-cli schema --name``."""
    folder = files("workflow_cli.model") / "schema"
    return sorted(entry.name[: -len(".json")] for entry in folder.iterdir() if entry.name.endswith(".json"))


@lru_cache(maxsize=None)
def _validator(name: str) -> Draft202012Validator:
    """A validator over the schema with its local ``$ref``s inlined (about 20% faster on big documents)."""
    from jsonschema import Draft202012Validator

    schema = load_schema(name)
    return Draft202012Validator(_inline_refs(schema, schema.get("$defs", {})))


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    """Copy ``node`` with every ``{"$ref": "#/$defs/x", ...}`` merged with ``defs[x]`` (no recursion in our schemas)."""
    if isinstance(node, list):
        return [_inline_refs(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _inline_refs(value, defs) for key, value in node.items() if key != "$defs"}
    ref = out.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/") and ref[8:] in defs:
        del out["$ref"]
        out = {**_inline_refs(defs[ref[8:]], defs), **out}
    return out


FAST_PATH_MIN_TASKS = 300


@lru_cache(maxsize=None)
def _fast_validator(name: str) -> Any:
    """A fastjsonschema-compiled check (about 10x faster than jsonschema), for big documents.

    The generated code is kept in the user's cache folder, keyed by the schema's hash, so only the
    first big validation pays the ~0.15 s compile.
    """
    import hashlib
    import os
    from pathlib import Path

    import fastjsonschema

    # a deep copy: fastjsonschema rewrites the $refs of the schema it compiles in place, which broke the
    # cached schema the full validator uses (PointerToNowhere '/$defs/task' on the next small document)
    schema = json.loads(json.dumps(load_schema(name)))
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    text = json.dumps(schema, sort_keys=True)
    digest = hashlib.sha256((text + fastjsonschema.VERSION).encode()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "workflow-cli"
    module_path = cache / f"schema_{name.replace('-', '_').replace('.', '_')}_{digest}.py"
    try:
        if not module_path.exists():
            code = fastjsonschema.compile_to_code(schema)
            cache.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = module_path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(code, encoding="utf-8")
            os.replace(tmp, module_path)
        import importlib.util

        spec = importlib.util.spec_from_file_location(module_path.stem, module_path)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        return getattr(module, [n for n in dir(module) if n.startswith("validate")][0])
    except Exception:  # noqa: BLE001 - a cache problem only costs speed
        return fastjsonschema.compile(schema)


def _quick_valid(doc: object, name: str) -> bool:
    """True when a big document passes the compiled check (then the slow full report is not needed)."""
    tasks = doc.get("tasks") if isinstance(doc, dict) else None
    if name != "workflow-2.0.0" or not isinstance(tasks, dict) or len(tasks) < FAST_PATH_MIN_TASKS:
        return False
    try:
        _fast_validator(name)(doc)
    except Exception:  # noqa: BLE001 - any doubt falls back to the full, precise validator
        return False
    return True


def schema_issues(doc: object, name: str = "workflow-2.0.0") -> list[Issue]:
    """Check ``doc`` against schema ``name``; every problem as an Issue, sorted by path, one per path."""
    if _quick_valid(doc, name):
        return []
    found: list[tuple[JsonPath, Issue]] = []
    for error in _validator(name).iter_errors(doc):
        found.extend(_issues_for(error, tuple(error.absolute_path)))
    found.sort(key=lambda item: _sort_key(item[0]))
    unique: dict[str, Issue] = {}
    for _, issue in found:
        unique.setdefault(issue.path, issue)
    return list(unique.values())


def render_path(path: JsonPath) -> str:
    """Render ``("tasks", "deploy", "dependencies", 0)`` as ``tasks.deploy.dependencies[0]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _sort_key(path: JsonPath) -> tuple[tuple[int, int, str], ...]:
    """Order paths element by element, indexes numerically."""
    return tuple((0, part, "") if isinstance(part, int) else (1, 0, part) for part in path)


def _json_type(value: object) -> str:
    """The JSON Schema type name of a Python value."""
    if value is None:
        return "null"
    for cls, label in _JSON_TYPES:
        if isinstance(value, cls):
            return label
    return type(value).__name__


def _issues_for(error: ValidationError, path: JsonPath) -> list[tuple[JsonPath, Issue]]:
    """Translate one jsonschema error found at ``path`` into located issues."""
    kind, value, instance = error.validator, cast(Any, error.validator_value), cast(Any, error.instance)
    if "propertyNames" in error.relative_schema_path:
        return [_bad_key(path, instance)]
    if kind == "additionalProperties" and value is False and isinstance(instance, dict):
        return _unknown_fields(error, path)
    if kind == "required" and isinstance(instance, dict):
        missing = [field for field in value if field not in instance]
        return [((*path, f), Issue(render_path((*path, f)), f"missing required field '{f}'")) for f in missing]
    if kind in ("oneOf", "anyOf") and error.context:
        return _branch_issues(error, path)
    hint = None
    if kind == "enum" and isinstance(instance, str):
        hint = did_you_mean(instance, [str(choice) for choice in value])
    message = error.schema.get("errorMessage") if isinstance(error.schema, dict) else None
    return [(path, Issue(render_path(path), message or _message(error, path), hint))]


def _message(error: ValidationError, path: JsonPath) -> str:
    """Short human wording for a single-keyword failure."""
    kind, value, instance = error.validator, cast(Any, error.validator_value), cast(Any, error.instance)
    if kind == "type":
        expected = " or ".join(value) if isinstance(value, list) else value
        return f"expected {expected}, got {_json_type(instance)}"
    if kind == "enum":
        return "must be one of: " + ", ".join(str(choice) for choice in value)
    if kind == "const":
        if path == ("version",):
            return f"unsupported schema version '{instance}' (this schema reads '{value}')"
        return f"must be {json.dumps(value)}"
    if kind in _BOUNDS:
        return f"must be {_BOUNDS[kind]} {value}"
    if kind in ("minItems", "minProperties", "minLength"):
        return "must not be empty" if value == 1 else f"must have at least {value} items"
    if kind == "uniqueItems":
        return "must not contain duplicates"
    if kind == "pattern":
        return f"must match the pattern '{value}'"
    return str(error.message)


def _bad_key(path: JsonPath, key: object) -> tuple[JsonPath, Issue]:
    """A mapping key rejected by ``propertyNames`` (task ids)."""
    where = (*path, str(key))
    if path == ("tasks",):
        return where, Issue(render_path(where), f"invalid task id '{key}' ({_TASK_ID_RULE})")
    return where, Issue(render_path(where), f"invalid name '{key}'")


def _unknown_fields(error: ValidationError, path: JsonPath) -> list[tuple[JsonPath, Issue]]:
    """One issue per field an ``additionalProperties: false`` object does not allow."""
    schema: Any = error.schema
    allowed = list(schema.get("properties", {}))
    noun = "event" if path == ("hooks",) else "field"
    found = []
    instance: Any = error.instance
    for key in instance:
        if key not in allowed:
            where = (*path, key)
            found.append((where, Issue(render_path(where), f"unknown {noun} '{key}'", did_you_mean(str(key), allowed))))
    return found


def _branch_issues(error: ValidationError, path: JsonPath) -> list[tuple[JsonPath, Issue]]:
    """Explain a failed oneOf/anyOf through the branches whose type fits the value."""
    branches: dict[object, list[ValidationError]] = {}
    for sub in error.context or []:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    fitting = [subs for subs in branches.values() if not any(_is_type_miss(sub) for sub in subs)]
    if fitting:
        from jsonschema.exceptions import best_match

        top = best_match(sub for subs in fitting for sub in subs)
        chosen = branches[top.relative_schema_path[0]] if top is not None else fitting[0]
        return [item for sub in chosen for item in _issues_for(sub, (*path, *sub.relative_path))]
    types: list[str] = []
    for subs in branches.values():
        for sub in subs:
            if _is_type_miss(sub):
                value: Any = sub.validator_value
                types.extend(value if isinstance(value, list) else [value])
    expected = " or ".join(dict.fromkeys(types))
    return [(path, Issue(render_path(path), f"expected {expected}, got {_json_type(error.instance)}"))]


def _is_type_miss(sub: ValidationError) -> bool:
    """Whether ``sub`` says the value itself has the wrong type for its branch."""
    return sub.validator == "type" and not sub.relative_path
