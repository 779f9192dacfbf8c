"""Declared template parameters (SPEC 4): merge defaults, params file and ``--param``, coerce, check.

Values are data: nothing here evaluates a value, so a value holding ``{{ ... }}`` stays text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from workflow_cli.errors import InvalidInputError, Issue, did_you_mean

SECRET_MASK = "***"
_TRUE = {"true", "yes", "y", "on", "1"}
_FALSE = {"false", "no", "n", "off", "0"}
_JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "array": list,
    "object": dict,
}


@dataclass(frozen=True)
class ResolvedParams:
    """Parameter values after precedence, coercion and checks."""

    values: dict[str, Any]
    secret_names: frozenset[str]

    def public(self) -> dict[str, Any]:
        """Values with every secret replaced by ``***``: safe for output and instance files."""
        return {k: (SECRET_MASK if k in self.secret_names else v) for k, v in self.values.items()}

    def secrets(self) -> dict[str, Any]:
        """Only the secret values (for the owner-only secrets file)."""
        return {k: v for k, v in self.values.items() if k in self.secret_names}


def parse_pairs(pairs: Sequence[str]) -> tuple[dict[str, str], list[Issue]]:
    """Split ``key=value`` strings from the command line; a later key wins."""
    values: dict[str, str] = {}
    issues: list[Issue] = []
    for raw in pairs:
        key, sep, value = raw.partition("=")
        key = key.strip()
        if not sep or not key:
            issues.append(Issue(f"--param {raw}", "expected key=value", "for example --param region=eu"))
            continue
        try:
            raw.encode("utf-8")
        except UnicodeEncodeError:  # bytes that are not UTF-8 reach argv as lone surrogates
            issues.append(Issue(f"--param {key.encode('utf-8', 'backslashreplace').decode()}", "the value is not valid UTF-8 text"))
            continue
        values[key] = value
    return values, issues


def _shown(value: Any, secret: bool, quote: str = "'") -> str:
    """How a message shows a value: quoted, or not at all for a secret (SPEC 14: name it, never show it)."""
    return "the secret value" if secret else f"{quote}{value}{quote}"


def _coerce_text(name: str, text: str, kind: str, secret: bool = False) -> tuple[Any, str | None]:
    """Convert a command-line string to the declared type; return (value, error)."""
    if kind == "string":
        return text, None
    if kind == "boolean":
        low = text.strip().lower()
        if low in _TRUE:
            return True, None
        if low in _FALSE:
            return False, None
        return None, f"expected a boolean (true/false, yes/no, 1/0), got {_shown(text, secret)}"
    from workflow_cli.model.loader import parse_text

    if kind in ("integer", "number"):
        # a JSON number: no NaN/Infinity, nothing beyond int64, no Python-only forms like 1_000
        expected = "an integer" if kind == "integer" else "a number"
        try:
            value = parse_text(text.strip().removeprefix("+"), fmt="json")
        except InvalidInputError as exc:
            reason = "; ".join(i.message for i in exc.issues if not i.message.startswith(("invalid JSON", "empty document")))
            return None, f"expected {expected}, got {_shown(text, secret)}" + (f" ({reason})" if reason and not secret else "")
        if isinstance(value, bool) or not isinstance(value, int if kind == "integer" else (int, float)):
            return None, f"expected {expected}, got {_shown(text, secret)}"
        return value, None
    try:
        # the document loader's rules: no NaN/Infinity, huge numbers, absurd nesting or duplicate keys
        value = parse_text(text, fmt="json")
    except InvalidInputError as exc:
        shown = text if len(text) <= 60 else text[:57] + "..."
        reason = "; ".join(issue.message for issue in exc.issues) or str(exc)
        return None, f"expected JSON {kind}, got {_shown(shown, secret)}" + ("" if secret else f" ({reason})")
    return value, None


def _cli_value(name: str, text: str, kind: str, secret: bool = False) -> tuple[Any, str | None]:
    """A ``--param`` value: ``@env:``/``@file:`` read (SPEC 4), then converted to the declared type."""
    from workflow_cli.templates.param_sources import ParamSourceError, expand_cli_value

    try:
        text = expand_cli_value(text)
    except ParamSourceError as exc:
        return None, str(exc)
    return _coerce_text(name, text, kind, secret)


def _final_issues(name: str, values: Mapping[str, Any], decl: Mapping[str, Any]) -> list[Issue]:
    """A missing or empty required value, else every way the value breaks its declaration."""
    if name not in values:
        if decl.get("required"):
            return [Issue(f"params.{name}", "missing required parameter", f"pass --param {name}=...")]
        return []
    value = values[name]
    if value is None:  # only a declared `default: null` gets here: no value, as before
        return [Issue(f"params.{name}", "missing required parameter", f"pass --param {name}=...")] if decl.get("required") else []
    if decl.get("required") and isinstance(value, str) and value == "":
        return [Issue(f"params.{name}", "required parameter is empty",
                      "give a value, or declare it required: false with default \"\" to allow an empty one")]
    return [Issue(f"params.{name}", problem) for problem in check_value(name, value, decl)]


def type_error(value: Any, kind: str) -> str | None:
    """Message when ``value`` is not of JSON type ``kind``, else None."""
    expected = _JSON_TYPES.get(kind)
    if expected is None:
        return None
    if isinstance(value, bool) and kind in ("integer", "number"):
        return f"expected {kind}, got boolean"
    if kind == "integer" and isinstance(value, float) and value.is_integer():
        return None
    if not isinstance(value, expected):
        return f"expected {kind}, got {_json_type_name(value)}"
    return None


def _json_type_name(value: Any) -> str:
    for name, kind in (("boolean", bool), ("integer", int), ("number", float), ("string", str), ("array", list), ("object", dict)):
        if isinstance(value, kind):
            return name
    return "null" if value is None else type(value).__name__


def check_value(name: str, value: Any, decl: Mapping[str, Any]) -> list[str]:
    """Every way ``value`` breaks its declaration (type, enum, pattern, range)."""
    kind = decl.get("type", "string")
    problem = type_error(value, kind)
    if problem:
        return [problem]
    problems = []
    secret = bool(decl.get("secret"))
    enum = decl.get("enum")
    if enum is not None and value not in enum:
        shown = ", ".join(str(e) for e in enum)
        problems.append(f"{_shown(value, secret)} is not one of: {shown}")
    pattern = decl.get("pattern")
    if pattern and isinstance(value, str):
        try:
            if not re.fullmatch(pattern, value):
                problems.append(f"{_shown(value, secret)} does not match pattern {pattern}")
        except re.error as exc:
            problems.append(f"invalid pattern {pattern}: {exc}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if decl.get("minimum") is not None and value < decl["minimum"]:
            problems.append(f"{_shown(value, secret, '')} is below the minimum {decl['minimum']}")
        if decl.get("maximum") is not None and value > decl["maximum"]:
            problems.append(f"{_shown(value, secret, '')} is above the maximum {decl['maximum']}")
    return problems


def declaration_issues(declared: Mapping[str, Mapping[str, Any]]) -> list[Issue]:
    """Defaults that break their own declaration (found at validation time)."""
    issues = []
    for name, decl in declared.items():
        if "default" in decl and decl["default"] is not None:
            for problem in check_value(name, decl["default"], decl):
                issues.append(Issue(f"parameters.{name}.default", problem))
        if decl.get("pattern"):
            try:
                re.compile(decl["pattern"])
            except re.error as exc:
                issues.append(Issue(f"parameters.{name}.pattern", f"invalid regular expression: {exc}"))
    return issues


def resolve_params(
    declared: Mapping[str, Mapping[str, Any]],
    *,
    file_values: Mapping[str, Any] | None = None,
    cli_pairs: Sequence[str] = (),
    overrides: Mapping[str, Any] | None = None,
) -> ResolvedParams:
    """Apply precedence defaults < params file < ``overrides`` < ``--param``; raise with every problem."""
    cli_values, issues = parse_pairs(cli_pairs)
    values: dict[str, Any] = {n: d["default"] for n, d in declared.items() if "default" in d}
    sources: list[tuple[str, Mapping[str, Any], bool]] = [
        ("params file", file_values or {}, False),
        ("params", overrides or {}, False),
        ("--param", cli_values, True),
    ]
    refused: set[str] = set()  # a value given but refused has its issue: no "missing required" besides
    for label, given, from_cli in sources:
        for name, value in given.items():
            if name not in declared:
                where = f"--param {name}" if from_cli else f"params.{name}"
                hint = did_you_mean(name, list(declared)) or (
                    f"declared: {', '.join(declared)}" if declared else "this template declares no parameters"
                )
                issues.append(Issue(where, f"unknown parameter '{name}' (from {label})", hint))
                continue
            if from_cli:
                value, problem = _cli_value(name, value, declared[name].get("type", "string"), bool(declared[name].get("secret")))
                if problem:
                    issues.append(Issue(f"--param {name}", problem))
                    refused.add(name)
                    continue
            if value is None:
                where = f"--param {name}" if from_cli else f"params.{name}"
                issues.append(Issue(where, f"null is not a value of type {declared[name].get('type', 'string')}",
                                    "leave the parameter out to use its default"))
                refused.add(name)
                continue
            values[name] = value
    for name, decl in declared.items():
        if name not in refused or name in values:
            issues += _final_issues(name, values, decl)
    if issues:
        raise InvalidInputError(None, issues)
    secret = frozenset(n for n, d in declared.items() if d.get("secret"))
    return ResolvedParams(values, secret)
