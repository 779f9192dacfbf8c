import subprocess
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow_cli.errors import WorkflowError
from workflow_cli.templates.render import (
    ExpressionError,
    contains_template,
    evaluate,
    expression_references,
    is_single_expression,
    render_value,
    truthy,
)

SCOPE: dict[str, Any] = {
    "params": {"amount": 1500, "regions": ["eu", "us"], "items": 3, "name": "demo"},
    "vars": {"count": 2},
    "tasks": {"assess": {"status": "completed", "outputs": {"priority": "high"}, "attempts": 1}},
    "item": {"id": 7},
    "index": 0,
}


def sh_printf(command: str) -> str:
    """Run a rendered command through /bin/sh and return what it printed."""
    done = subprocess.run(["/bin/sh", "-c", command], capture_output=True, check=True)
    return done.stdout.decode("utf-8")


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("params.amount > 1000", True),
        ("{{ params.amount > 1000 }}", True),
        ("  {{ params.regions }}  ", ["eu", "us"]),
        ("params.regions | length", 2),
        ("tasks.assess.outputs.priority", "high"),
        ("tasks['assess'].status == 'completed'", True),
        ("item.id + index", 7),
        ("params.items", 3),  # a key named like a dict method is the key
        ('\'{"a": [1]}\' | fromjson', {"a": [1]}),
        ("{'a': '<b>'} | tojson", '{"a": "<b>"}'),
        ("params.missing is defined", False),
        ("params.missing | default('x')", "x"),
    ],
)
def test_evaluate_native_values(expr: str, expected: Any) -> None:
    assert evaluate(expr, SCOPE) == expected


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("params.amout > 1", "'params' has no attribute 'amout'"),
        ("params.amout", "'params' has no attribute 'amout'"),
        ("foo == 1", "undefined name 'foo'"),
        ("tasks.asess.outputs.priority", "'tasks' has no attribute 'asess'"),
        ("tasks.assess.outputs['prio'] == 1", "'tasks.assess.outputs' has no attribute 'prio'"),
        ("[1, params.nope]", "'params' has no attribute 'nope'"),
    ],
)
def test_undefined_names_are_errors_with_readable_messages(expr: str, message: str) -> None:
    with pytest.raises(ExpressionError) as info:
        evaluate(expr, SCOPE)
    assert str(info.value) == message


@pytest.mark.parametrize("expr", ["params.amount >", "{{ a }} {{ b }}", "1 +* 2", ""])
def test_syntax_errors(expr: str) -> None:
    with pytest.raises(ExpressionError, match="invalid expression"):
        evaluate(expr, SCOPE)


def test_runtime_errors_become_expression_errors() -> None:
    with pytest.raises(ExpressionError, match="ZeroDivisionError"):
        evaluate("1 / 0", SCOPE)
    with pytest.raises(ExpressionError, match="fromjson|JSONDecodeError"):
        evaluate("'not json' | fromjson", SCOPE)


def test_expression_error_exit_code() -> None:
    assert issubclass(ExpressionError, WorkflowError)
    assert ExpressionError.exit_code == 2


@pytest.mark.parametrize(
    "expr",
    [
        "().__class__.__mro__",
        "params.__class__",
        "params.__class__.__subclasses__()",
        "''.__class__.__mro__[1].__subclasses__()",
        "params.update({'x': 1})",
        "range(10 ** 7) | list",
        "'x' * 10 ** 9",
        "9 ** 99999",
    ],
)
def test_sandbox_blocks_unsafe_expressions(expr: str) -> None:
    with pytest.raises(ExpressionError):
        evaluate(expr, SCOPE)


def test_sandbox_error_message() -> None:
    with pytest.raises(ExpressionError, match="^unsafe expression: .*__class__"):
        evaluate("params.__class__", SCOPE)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("false", False),
        (" FALSE ", False),
        ("0", False),
        ("", False),
        ("None", False),
        ("no", True),
        ("true", True),
        ("1", True),
        (0, False),
        (1, True),
        ([], False),
        (["x"], True),
        (None, False),
        ({}, False),
    ],
)
def test_truthy(value: Any, expected: bool) -> None:
    assert truthy(value) is expected


def test_render_value_native_and_text() -> None:
    value = {
        "list": "{{ params.regions }}",
        "number": " {{ params.amount }} ",
        "text": "amount={{ params.amount }} for {{ params.name }}",
        "nested": [{"deep": "{{ vars.count * 2 }}"}, 5, None, True],
        "plain": "no markup {here}",
        "block": "{% for r in params.regions %}{{ r }};{% endfor %}",
        "keeps_newline": "line {{ index }}\n",
    }
    assert render_value(value, SCOPE) == {
        "list": ["eu", "us"],
        "number": 1500,
        "text": "amount=1500 for demo",
        "nested": [{"deep": 4}, 5, None, True],
        "plain": "no markup {here}",
        "block": "eu;us;",
        "keeps_newline": "line 0\n",
    }


def test_render_value_undefined_is_an_error() -> None:
    with pytest.raises(ExpressionError, match="'params' has no attribute 'nope'"):
        render_value("x {{ params.nope }}", SCOPE)
    with pytest.raises(ExpressionError, match="undefined name 'nope'"):
        render_value("{{ nope }}", SCOPE)


@pytest.mark.parametrize("shell", [False, True])
def test_render_is_a_single_pass(shell: bool) -> None:
    scope = {"params": {"v": "{{ 7*7 }}", "w": "{% if true %}yes{% endif %}"}}
    native = render_value("{{ params.v }}", scope, shell=shell)
    text = render_value("a {{ params.v }} {{ params.w }}", scope, shell=shell)
    if shell:
        assert sh_printf(f"printf '%s' {native}") == "{{ 7*7 }}"
        assert sh_printf(f"printf '%s|' {text}") == "a|{{ 7*7 }}|{% if true %}yes{% endif %}|"
    else:
        assert native == "{{ 7*7 }}"
        assert text == "a {{ 7*7 }} {% if true %}yes{% endif %}"


@pytest.mark.parametrize(
    "payload",
    [
        "$(rm -rf /)",
        "; echo pwned",
        "`echo pwned`",
        "it's \"quoted\"",
        "a && b || c > /tmp/x",
        "$HOME ${PATH} \\n",
        "multi\nline",
        "",
        "-n",
    ],
)
def test_shell_quoting_neutralises_injection(payload: str) -> None:
    command = render_value("printf '%s' {{ params.v }}", {"params": {"v": payload}}, shell=True)
    assert sh_printf(command) == payload


def test_shell_mode_quotes_single_expression_and_leaves_plain_strings() -> None:
    assert render_value("{{ params.v }}", {"params": {"v": "a b"}}, shell=True) == "'a b'"
    assert render_value("echo $HOME | tr a b", {}, shell=True) == "echo $HOME | tr a b"


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")))
def test_shell_quoting_round_trips_any_text(value: str) -> None:
    command = render_value("printf '%s' {{ params.v }}", {"params": {"v": value}}, shell=True)
    assert sh_printf(command) == value


@pytest.mark.parametrize(
    ("text", "single", "contains"),
    [
        ("{{ x }}", True, True),
        ("  {{ x | default('}}') }}\n", True, True),
        ("{{- x -}}", True, True),
        ("{{ a }} {{ b }}", False, True),
        ("a {{ b }}", False, True),
        ("{% if a %}x{% endif %}", False, True),
        ("plain {text}", False, False),
        ("{{ unterminated", False, True),
    ],
)
def test_single_expression_detection(text: str, single: bool, contains: bool) -> None:
    assert is_single_expression(text) is single
    assert contains_template(text) is contains


@pytest.mark.parametrize(
    ("source", "is_template", "expected"),
    [
        ("tasks.assess.outputs.priority == 'high'", False, [("tasks", ("assess", "outputs", "priority"))]),
        ('{{ params["x"] }}', False, [("params", ("x",))]),
        ("params.a + vars.b > item", False, [("params", ("a",)), ("vars", ("b",)), ("item", ())]),
        ("params.name.upper() ~ range(3) | string", False, [("params", ("name",))]),
        ("tasks[params.which].outputs", False, [("params", ("which",)), ("tasks", ())]),
        ("tasks.a.outputs[0].x", False, [("tasks", ("a", "outputs"))]),
        ("foo and params.a and params.a", False, [("foo", ()), ("params", ("a",))]),
        ("deploy to {{ params.region }}", True, [("params", ("region",))]),
        (
            "{% for r in params.regions %}{{ r.name }}{{ loop.index }}{% endfor %}{{ r }}",
            True,
            [("params", ("regions",)), ("r", ())],
        ),
        ("{% set x = vars.y %}{{ x.z }}{{ env.HOME }}", True, [("vars", ("y",)), ("env", ("HOME",))]),
    ],
)
def test_expression_references(source: str, is_template: bool, expected: list[tuple[str, tuple[str, ...]]]) -> None:
    assert expression_references(source, is_template=is_template) == expected


def test_expression_references_syntax_error() -> None:
    with pytest.raises(ExpressionError, match="unexpected"):
        expression_references("params.a >", is_template=False)
    with pytest.raises(ExpressionError):
        expression_references("{% for %}", is_template=True)
