"""Expressions a builder hands around: ``wf.param("day")``, ``task.outputs["rows"]``, ``task.status``.

An :class:`Expr` holds the source of a sandboxed Jinja expression (``params.day``). It renders as
``{{ params.day }}`` wherever it is put into a string or an argv list, and as itself where the document
field *is* an expression (``conditions``, ``foreach``, ``loop.until``, ``cache.key``, ``set_vars``).
Comparisons and ``&``, ``|``, ``~`` build bigger expressions::

    >>> from workflow_cli.builder.expr import Expr
    >>> amount = Expr("params.amount")
    >>> str((amount > 1000) & ~Expr("params.dry_run"))
    '{{ ((params.amount > 1000) and (not params.dry_run)) }}'
    >>> f"echo {Expr('tasks.extract.outputs')['path']}"
    'echo {{ tasks.extract.outputs.path }}'
"""

from __future__ import annotations

import json
import keyword
import re
from typing import Any, NoReturn

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Dot access would find these dict methods before a key of the same name (Jinja tries getattr first).
_SHADOWED = frozenset(name for name in dir(dict) if not name.startswith("_")) | {"true", "false", "none"}


def accessor(key: str | int) -> str:
    """The Jinja suffix that reads ``key``: ``.name``, ``['odd-key']`` or ``[0]``.

    >>> accessor("rows"), accessor("items"), accessor(2)
    ('.rows', '["items"]', '[2]')
    """
    if isinstance(key, bool) or not isinstance(key, (str, int)):
        raise TypeError(f"an expression can be indexed by a string or an integer, not {type(key).__name__}")
    if isinstance(key, int):
        return f"[{key}]"
    if _IDENTIFIER.match(key) and key not in _SHADOWED and not keyword.iskeyword(key):
        return f".{key}"
    return f"[{json.dumps(key)}]"


def literal(value: Any) -> str:
    """A Python value written as a Jinja literal (an :class:`Expr` as its own source).

    >>> literal("it's"), literal(True), literal(None), literal([1, "a"])
    ('"it\\'s"', 'true', 'none', '[1, "a"]')
    """
    if isinstance(value, Expr):
        return value.source
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write a {type(value).__name__} into an expression")


def tasks_in(value: Any) -> frozenset[str]:
    """Task ids the expressions inside ``value`` read (an Expr knows them; plain values read none)."""
    if isinstance(value, Expr):
        return value.tasks
    if isinstance(value, (list, tuple)):
        return frozenset().union(*(tasks_in(v) for v in value))
    if isinstance(value, dict):
        return frozenset().union(*(tasks_in(v) for v in value.values()))
    return frozenset()


class Expr:
    """A Jinja expression; ``str()`` gives ``{{ source }}``, operators give new expressions.

    ``tasks`` holds the ids of the tasks it reads, so a builder can make them dependencies.
    """

    __slots__ = ("source", "tasks")
    __hash__ = None  # type: ignore[assignment]  # == builds an expression, so no hashing

    def __init__(self, source: str, tasks: frozenset[str] = frozenset()) -> None:
        if not isinstance(source, str) or not source.strip():
            raise TypeError("an expression needs a non-empty source string")
        self.source = source.strip()
        self.tasks = tasks

    def __str__(self) -> str:
        return "{{ " + self.source + " }}"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __repr__(self) -> str:
        return f"Expr({self.source!r})"

    def __getitem__(self, key: str | int) -> Expr:
        return Expr(self.source + accessor(key), self.tasks)

    def __bool__(self) -> NoReturn:
        raise TypeError(
            f"the expression {self.source!r} is evaluated when the workflow runs, not in Python: "
            "combine expressions with &, | and ~ instead of and, or, not"
        )

    def _binary(self, op: str, other: Any) -> Expr:
        return Expr(f"({self.source} {op} {literal(other)})", self.tasks | tasks_in(other))

    def __eq__(self, other: object) -> Expr:  # type: ignore[override]
        return self._binary("==", other)

    def __ne__(self, other: object) -> Expr:  # type: ignore[override]
        return self._binary("!=", other)

    def __lt__(self, other: Any) -> Expr:
        return self._binary("<", other)

    def __le__(self, other: Any) -> Expr:
        return self._binary("<=", other)

    def __gt__(self, other: Any) -> Expr:
        return self._binary(">", other)

    def __ge__(self, other: Any) -> Expr:
        return self._binary(">=", other)

    def __and__(self, other: Any) -> Expr:
        return self._binary("and", other)

    def __rand__(self, other: Any) -> Expr:
        return Expr(f"({literal(other)} and {self.source})", self.tasks | tasks_in(other))

    def __or__(self, other: Any) -> Expr:
        return self._binary("or", other)

    def __ror__(self, other: Any) -> Expr:
        return Expr(f"({literal(other)} or {self.source})", self.tasks | tasks_in(other))

    def __invert__(self) -> Expr:
        return Expr(f"(not {self.source})", self.tasks)

    def is_in(self, values: Any) -> Expr:
        """True when the value is in ``values`` (a list, or another expression).

        >>> Expr("params.env").is_in(["prod", "staging"]).source
        '(params.env in ["prod", "staging"])'
        """
        return self._binary("in", values)

    def contains(self, value: Any) -> Expr:
        """True when ``value`` is in this list or string."""
        return Expr(f"({literal(value)} in {self.source})", self.tasks | tasks_in(value))

    def length(self) -> Expr:
        """The length of this list or string (Jinja's ``length`` filter)."""
        return Expr(f"({self.source} | length)", self.tasks)

    def default(self, value: Any) -> Expr:
        """This value, or ``value`` when it is undefined or empty."""
        return Expr(f"({self.source} | default({literal(value)}, true))", self.tasks | tasks_in(value))


def as_expression(value: str | Expr) -> str:
    """The text of an expression field: an Expr as ``{{ source }}``, a string as the user wrote it."""
    if isinstance(value, Expr):
        return str(value)
    if isinstance(value, str):
        return value
    raise TypeError(f"expected an expression (a string or an Expr), got {type(value).__name__}")
