"""Sandboxed Jinja2 expressions and templates (SPEC sections 3 and 14).

An *expression* field (conditions, foreach, loop.until, ...) holds a bare Jinja expression or the
same wrapped in ``{{ }}`` and evaluates to a native value. A *template* string inside ``parameters``
renders to text, except one that is exactly ``{{ expr }}``, which keeps the native value.
Rendering is a single pass: text produced by a value is never evaluated again.
"""

from __future__ import annotations

import functools
import json
import shlex
from collections.abc import Mapping
from typing import Any, Callable, NoReturn

_Refs = list[tuple[str, tuple[str, ...]]]

from jinja2 import StrictUndefined, Template, meta, nodes
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.runtime import Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing

from workflow_cli.errors import WorkflowError
from workflow_cli.templates.markers import has_markup

FALSE_STRINGS = frozenset({"false", "0", "", "none"})
# Caps that keep `"x" * 10**10` or `9 ** 9 ** 9` from exhausting memory or CPU.
MAX_SEQUENCE_PRODUCT = 1_000_000
MAX_POWER_EXPONENT = 10_000


class ExpressionError(WorkflowError):
    """An expression or template that cannot be parsed or evaluated."""

    exit_code = 2


class _MissingError(UndefinedError):
    """An undefined name or attribute, remembering which object lacked which name."""

    def __init__(self, message: str | None = None, *, obj: Any = missing, name: str | None = None) -> None:
        super().__init__(message)
        self.obj = obj
        self.name = name


class _Undefined(StrictUndefined):
    """StrictUndefined whose plain "undefined" errors carry the object and name for messages."""

    __slots__ = ()

    def __init__(
        self,
        hint: str | None = None,
        obj: Any = missing,
        name: str | None = None,
        exc: Any = UndefinedError,
    ) -> None:
        if exc is UndefinedError:
            exc = functools.partial(_MissingError, obj=obj, name=name)
        super().__init__(hint, obj, name, exc)


class _Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox, with mapping keys preferred over methods and size caps on ``*`` and ``**``."""

    intercepted_binops = frozenset({"*", "**"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        # `params.items` must be the parameter named "items", not dict.items.
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                pass
        return super().getattr(obj, attribute)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(count, int):
                    if len(seq) * count > MAX_SEQUENCE_PRODUCT:
                        raise SecurityError("sequence repetition result too large")
        elif isinstance(right, int) and abs(right) > MAX_POWER_EXPONENT and isinstance(left, int):
            if abs(left) > 1:
                raise SecurityError("exponent too large")
        return super().call_binop(context, operator, left, right)


def _fromjson(text: str) -> Any:
    return json.loads(text)


def _tojson(value: Any, indent: int | None = None) -> str:
    # Plain JSON: the builtin filter HTML-escapes <, > and &, which is wrong outside HTML.
    return json.dumps(value, indent=indent, ensure_ascii=False)


def _shell_finalize(value: Any) -> str:
    return shlex.quote(str(value))


@functools.lru_cache(maxsize=None)
def _environment(shell: bool) -> _Sandbox:
    env = _Sandbox(
        undefined=_Undefined,
        autoescape=False,
        keep_trailing_newline=True,
        finalize=_shell_finalize if shell else None,
    )
    env.filters["fromjson"] = _fromjson
    env.filters["tojson"] = _tojson
    return env


@functools.lru_cache(maxsize=1024)
def _compiled_expression(source: str) -> Callable[..., Any]:
    try:
        return _environment(False).compile_expression(source, undefined_to_none=False)
    except TemplateSyntaxError as exc:
        raise ExpressionError(f"invalid expression {source.strip()!r}: {exc.message}") from exc


@functools.lru_cache(maxsize=1024)
def _compiled_template(source: str, shell: bool) -> Template:
    try:
        return _environment(shell).from_string(source)
    except TemplateSyntaxError as exc:
        raise ExpressionError(f"invalid template {source!r}: {exc.message}") from exc


@functools.lru_cache(maxsize=4096)
def _single_expression_source(text: str) -> str | None:
    """The inner source of a string that is exactly one ``{{ expr }}``, else None."""
    stripped = text.strip()
    if not (stripped.startswith("{{") and stripped.endswith("}}")):
        return None
    try:
        tokens = list(_environment(False).lex(stripped))
    except TemplateSyntaxError:
        return None
    kinds = [kind for _, kind, _ in tokens]
    if kinds[0] != "variable_begin" or kinds[-1] != "variable_end" or kinds.count("variable_begin") != 1:
        return None
    if "variable_end" in kinds[1:-1]:
        return None
    return "".join(value for _, _, value in tokens[1:-1])


def contains_template(s: str) -> bool:
    """Whether a string holds any Jinja markup (``{{`` or ``{%``)."""
    return has_markup(s)


def is_single_expression(s: str) -> bool:
    """Whether a string is exactly one ``{{ expr }}`` (surrounding whitespace allowed)."""
    return _single_expression_source(s) is not None


def truthy(value: Any) -> bool:
    """Condition truth: Python truthiness, except "false", "0", "" and "none" strings are false."""
    if isinstance(value, str):
        return value.strip().lower() not in FALSE_STRINGS
    return bool(value)


def evaluate(expr: str, scope: Mapping[str, Any]) -> Any:
    """Evaluate a bare or ``{{ }}``-wrapped expression to its native value."""
    source = _single_expression_source(expr) or expr
    compiled = _compiled_expression(source)
    try:
        value = compiled(dict(scope))
        _reject_undefined(value)
    except Exception as exc:  # noqa: BLE001 - user code; every failure becomes one clear error
        _raise_evaluation_error(exc, source, scope, is_template=False)
    return value


def render_value(value: Any, scope: Mapping[str, Any], *, shell: bool = False) -> Any:
    """Render every string inside ``value`` (dicts and lists recursively) in one pass.

    With ``shell=True`` each ``{{ ... }}`` output is shell-quoted, so a value is always exactly one
    word of the command (do not put quotes around the placeholder yourself).
    """
    if isinstance(value, str):
        return _render_string(value, scope, shell=shell)
    if isinstance(value, Mapping):
        return {key: render_value(item, scope, shell=shell) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [render_value(item, scope, shell=shell) for item in value]
    return value


def _render_string(text: str, scope: Mapping[str, Any], *, shell: bool) -> Any:
    if not contains_template(text):
        return text
    source = _single_expression_source(text)
    if source is not None:
        native = evaluate(source, scope)
        return _shell_finalize(native) if shell else native
    template = _compiled_template(text, shell)
    try:
        return template.render(dict(scope))
    except Exception as exc:  # noqa: BLE001 - user code; every failure becomes one clear error
        _raise_evaluation_error(exc, text, scope, is_template=True)


def _reject_undefined(value: Any) -> None:
    """Raise for an undefined value, also one nested in a list or dict the expression built."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    elif isinstance(value, (list, tuple)):
        for item in value:
            _reject_undefined(item)
    elif isinstance(value, dict):
        for item in value.values():
            _reject_undefined(item)


def _raise_evaluation_error(exc: Exception, source: str, scope: Mapping[str, Any], *, is_template: bool) -> NoReturn:
    if isinstance(exc, SecurityError):
        raise ExpressionError(f"unsafe expression: {exc}") from exc
    if isinstance(exc, _MissingError):
        raise ExpressionError(_explain_missing(exc, source, scope, is_template=is_template)) from exc
    what = "template" if is_template else "expression"
    detail = exc.message if isinstance(exc, UndefinedError) and exc.message else str(exc)
    raise ExpressionError(f"error in {what} {source.strip()!r}: {type(exc).__name__}: {detail}") from exc


def _explain_missing(exc: _MissingError, source: str, scope: Mapping[str, Any], *, is_template: bool) -> str:
    """Name the object that lacks the attribute by its path in the scope, e.g. 'params'."""
    if exc.obj is missing:
        return f"undefined name '{exc.name}'" if exc.name else exc.message or "undefined value"
    for root, path in expression_references(source, is_template=is_template):
        obj, where = scope.get(root, missing), root
        for step in path:
            if obj is exc.obj and step == exc.name:
                return f"'{where}' has no attribute '{step}'"
            obj = _lookup(obj, step)
            if obj is missing:
                break
            where = f"{where}.{step}"
    return exc.message or f"undefined attribute '{exc.name}'"


def _lookup(obj: Any, key: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key, missing)
    if key.startswith("_"):
        return missing
    return getattr(obj, key, missing)


def expression_references(expr_or_template: str, *, is_template: bool) -> list[tuple[str, tuple[str, ...]]]:
    """Root names an expression reads with their constant attribute path, in order of appearance.

    ``tasks.a.outputs["x"]`` gives ``("tasks", ("a", "outputs", "x"))``. A path stops at a dynamic
    or integer subscript and before a method call. Names bound inside the template (``for``,
    ``set``, ``with``, macro arguments) and Jinja globals such as ``range`` are left out.
    """
    if is_template:
        source = expr_or_template
    else:
        source = "{{ " + (_single_expression_source(expr_or_template) or expr_or_template) + " }}"
    env = _environment(False)
    try:
        tree = env.parse(source)
        # compiles the tree: an unknown filter or test (TemplateAssertionError) is found here
        roots = meta.find_undeclared_variables(tree) - set(env.globals)
    except TemplateSyntaxError as exc:
        what = "template" if is_template else "expression"
        raise ExpressionError(f"invalid {what} {expr_or_template.strip()!r}: {exc.message}") from exc
    found: _Refs = []
    _visit(tree, frozenset(), roots, found)
    return list(dict.fromkeys(found))


def _visit(node: nodes.Node, bound: frozenset[str], roots: set[str], out: _Refs) -> None:
    child: nodes.Node | None
    if isinstance(node, (nodes.Name, nodes.Getattr, nodes.Getitem)):
        _visit_chain(node, bound, roots, out)
    elif isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr):
        # `x.y.upper()`: record x.y, not the method name.
        _visit_chain(node.node.node, bound, roots, out)
        for child in (*node.args, *node.kwargs, node.dyn_args, node.dyn_kwargs):
            if child is not None:
                _visit(child, bound, roots, out)
    elif isinstance(node, nodes.For):
        _visit(node.iter, bound, roots, out)
        inner = bound | _names(node.target) | {"loop"}
        for child in (node.test, *node.body):
            if child is not None:
                _visit(child, inner, roots, out)
        for child in node.else_:
            _visit(child, bound, roots, out)
    elif isinstance(node, nodes.With):
        for child in node.values:
            _visit(child, bound, roots, out)
        inner = bound.union(*(_names(t) for t in node.targets))
        for child in node.body:
            _visit(child, inner, roots, out)
    elif isinstance(node, nodes.Macro):
        for child in node.defaults:
            _visit(child, bound, roots, out)
        inner = bound.union(*(_names(a) for a in node.args)) | {"varargs", "kwargs", "caller"}
        for child in node.body:
            _visit(child, inner, roots, out)
    else:
        for child in node.iter_child_nodes():
            _visit(child, bound, roots, out)


def _visit_chain(node: nodes.Node, bound: frozenset[str], roots: set[str], out: _Refs) -> None:
    steps: list[str] = []  # outermost first
    while isinstance(node, (nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr):
            steps.append(node.attr)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            steps.append(node.arg.value)
        else:
            steps.clear()  # what follows a dynamic subscript is not a static path
            _visit(node.arg, bound, roots, out)
        node = node.node
    if isinstance(node, nodes.Name):
        if node.ctx == "load" and node.name in roots and node.name not in bound:
            out.append((node.name, tuple(reversed(steps))))
    else:
        _visit(node, bound, roots, out)


def _names(target: nodes.Node) -> frozenset[str]:
    if isinstance(target, nodes.Name):
        return frozenset({target.name})
    return frozenset(n.name for n in target.find_all(nodes.Name))
