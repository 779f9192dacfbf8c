"""Read JSON and YAML documents safely: duplicate keys, NaN, huge numbers and deep nesting refused.

Every problem becomes an :class:`~workflow_cli.errors.Issue` with the path of the offending value, so
``validate`` can report a duplicate key as ``tasks.build.name`` instead of a parser offset.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import Any

from workflow_cli.errors import InvalidInputError, Issue, NotFoundError

MAX_DEPTH = 64
MAX_NODES = 2_000_000
MAX_INT_DIGITS = 19  # beyond int64 is not a number a workflow needs
MAX_BYTES = 64 * 1024 * 1024


class _Mapping(dict):  # type: ignore[type-arg]
    """A dict that remembers keys seen twice while it was built."""

    __slots__ = ("duplicates",)

    def __init__(self, pairs: list[tuple[Any, Any]]) -> None:
        super().__init__()
        self.duplicates: list[tuple[Any, int | None]] = []
        for key, value, *line in pairs:
            if key in self:
                self.duplicates.append((key, line[0] if line else None))
            self[key] = value


def _json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in a workflow document")


def _json_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"number {text[:12]}... is too large")
    return int(text)


def _json_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text[:12]} is too large")
    return value


def _path_join(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _check_tree(value: Any, issues: list[Issue]) -> Any:
    """Walk the parsed tree: report duplicates and limits, return plain dicts and lists."""
    count = 0
    # iterative walk: deep documents must not blow the Python stack
    root: list[Any] = [None]
    stack: list[tuple[Any, str, int, Any, Any]] = [(value, "", 0, root, 0)]
    while stack:
        node, path, depth, parent, slot = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise InvalidInputError.at(path, f"document has more than {MAX_NODES} values")
        if depth > MAX_DEPTH:
            raise InvalidInputError.at(path, f"nesting deeper than {MAX_DEPTH} levels")
        if isinstance(node, dict):
            for key, line in getattr(node, "duplicates", ()):
                where = f" (line {line})" if line else ""
                issues.append(Issue(_path_join(path, key), f"duplicate key '{key}'{where}"))
            plain: dict[str, Any] = {}
            for key, item in node.items():
                if not isinstance(key, str):
                    issues.append(Issue(_path_join(path, str(key)), f"key {key!r} is not a string"))
                    key = str(key)
                plain[key] = None
                stack.append((item, _path_join(path, key), depth + 1, plain, key))
            parent[slot] = plain
        elif isinstance(node, list):
            plain_list: list[Any] = [None] * len(node)
            for i, item in enumerate(node):
                stack.append((item, _path_join(path, i), depth + 1, plain_list, i))
            parent[slot] = plain_list
        else:
            if isinstance(node, float) and not math.isfinite(node):
                issues.append(Issue(path, "NaN and Infinity are not allowed"))
            elif isinstance(node, int) and not isinstance(node, bool) and abs(node) >= 2**63:
                issues.append(Issue(path, "number is too large"))
            elif not isinstance(node, (str, int, float, bool, type(None))):
                issues.append(Issue(path, f"unsupported value of type {type(node).__name__}"))
            parent[slot] = node
    return root[0]


def _parse_json(text: str) -> Any:
    try:
        return json.loads(
            text,
            object_pairs_hook=_Mapping,
            parse_constant=_json_constant,
            parse_int=_json_int,
            parse_float=_json_float,
        )
    except json.JSONDecodeError as exc:
        raise InvalidInputError.at("", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    except ValueError as exc:
        raise InvalidInputError.at("", str(exc)) from exc
    except RecursionError as exc:
        raise InvalidInputError.at("", f"nesting deeper than {MAX_DEPTH} levels") from exc


def _yaml_loader() -> type:
    import yaml

    class Loader(yaml.SafeLoader):
        """SafeLoader that keeps duplicate keys visible and refuses NaN/Infinity."""

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:  # noqa: FBT001
            self.flatten_mapping(node)
            pairs = []
            for key_node, value_node in node.value:
                key = self.construct_object(key_node, deep=deep)
                try:
                    hash(key)
                except TypeError as exc:
                    raise yaml.constructor.ConstructorError(
                        None, None, "a mapping key must be a plain value", key_node.start_mark
                    ) from exc
                value = self.construct_object(value_node, deep=deep)
                pairs.append((key, value, key_node.start_mark.line + 1))
            return _Mapping(pairs)

    Loader.add_constructor("tag:yaml.org,2002:map", lambda loader, node: loader.construct_mapping(node, deep=True))
    return Loader


def _parse_yaml(text: str) -> Any:
    import yaml

    try:
        return yaml.load(text, Loader=_yaml_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}" if mark else ""
        problem = exc.problem or "unsupported construct"
        if "could not determine a constructor" in problem:
            problem = f"unsupported YAML tag {problem.split('tag ', 1)[-1]}"
        raise InvalidInputError.at("", f"{problem}{where}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InvalidInputError.at("", f"invalid YAML{where}: {problem}") from exc
    except RecursionError as exc:
        raise InvalidInputError.at("", f"nesting deeper than {MAX_DEPTH} levels") from exc


def parse_text(text: str, *, fmt: str = "auto") -> Any:
    """Parse JSON or YAML text (``fmt``: json, yaml or auto) into plain, checked values."""
    if not text.strip():
        raise InvalidInputError.at("", "empty document")
    if fmt == "auto":
        fmt = "json" if text.lstrip()[:1] in "{[" else "yaml"
    raw = _parse_json(text) if fmt == "json" else _parse_yaml(text)
    issues: list[Issue] = []
    value = _check_tree(raw, issues)
    if issues:
        raise InvalidInputError(None, issues)
    return value


def _read_regular(path: Path, what: str) -> bytes:
    """The bytes of a regular file, at most MAX_BYTES + 1 of them; a FIFO or a device is refused at once (SPEC 16)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InvalidInputError.at(str(path), f"is not a regular file (a FIFO or a device): give a {what} file")
        os.set_blocking(fd, True)
        return fh.read(MAX_BYTES + 1)


def read_text(path: Path, *, what: str = "document") -> str:
    """Read a UTF-8 file, turning OS errors into user-facing errors."""
    try:
        if path.is_dir():
            raise InvalidInputError.at(str(path), f"is a folder, not a {what} file")
        data = _read_regular(path, what)
    except FileNotFoundError as exc:
        raise NotFoundError(f"{what} file not found: {path}") from exc
    except PermissionError as exc:
        raise InvalidInputError.at(str(path), "cannot read: permission denied") from exc
    except OSError as exc:
        raise InvalidInputError.at(str(path), f"cannot read: {exc.strerror}") from exc
    if len(data) > MAX_BYTES:
        raise InvalidInputError.at(str(path), f"file is larger than {MAX_BYTES // (1024 * 1024)} MiB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInputError.at(str(path), f"not UTF-8 text (byte {exc.start})") from exc


def load_file(path: Path, *, what: str = "document") -> Any:
    """Load a JSON (``.json``) or YAML file; errors name the file and the path inside it."""
    text = read_text(path, what=what)
    fmt = "json" if path.suffix.lower() == ".json" else "yaml" if path.suffix.lower() in (".yaml", ".yml") else "auto"
    try:
        return parse_text(text, fmt=fmt)
    except InvalidInputError as exc:
        located = [Issue(f"{path}:{i.path}" if i.path else str(path), i.message, i.hint) for i in exc.issues]
        raise InvalidInputError(None, located) from exc


def load_document(path: Path) -> dict[str, Any]:
    """Load a workflow document file; it must be a mapping at the top level."""
    doc = load_file(path)
    if not isinstance(doc, dict):
        raise InvalidInputError.at(str(path), f"a workflow document must be a mapping, not {type(doc).__name__}")
    return doc
