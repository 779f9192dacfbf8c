"""The condition_check action: bare and pre-rendered expressions, cases and default (SPEC 6.4)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from workflow_cli.actions.base import ActionContext, ActionResult
from workflow_cli.actions.condition_check import ConditionCheckAction
from workflow_cli.templates.render import render_value

SCOPE: dict[str, Any] = {
    "params": {"amount": 1500, "priority": "high", "note": "params.amount > 0"},
    "vars": {},
    "tasks": {"assess": {"outputs": {"score": 7}}},
    "instance": {"id": "inst-1"},
    "env": {},
}


def check(declared: dict[str, Any], *, with_task: bool = True) -> ActionResult:
    """Render ``declared`` as the runner does, then run the action on it."""
    ctx = ActionContext(
        instance_id="inst-1", task_id="check", attempt=1, parameters=render_value(declared, SCOPE),
        workspace=Path("."), log=lambda line: None, services={"scope": SCOPE},
        task=SimpleNamespace(parameters=declared) if with_task else None,
    )
    return ConditionCheckAction().run(ctx)


@pytest.mark.parametrize(
    ("expression", "result", "passed"),
    [
        ("params.amount > 1000", True, True),
        ("params.amount > 9999", False, False),
        ("{{ params.amount > 1000 }}", True, True),
        ("tasks.assess.outputs.score", 7, True),
        ("{{ tasks.assess.outputs.score - 7 }}", 0, False),
        ("params.priority", "high", True),
    ],
)
def test_expression(expression: str, result: Any, passed: bool) -> None:
    outcome = check({"expression": expression})
    assert outcome.ok and outcome.outputs == {"result": result, "passed": passed}


def test_a_rendered_value_is_data_and_never_evaluated_again() -> None:
    outcome = check({"expression": "{{ params.note }}"})
    assert outcome.ok and outcome.outputs == {"result": "params.amount > 0", "passed": True}
    priority = check({"cases": [{"when": "{{ params.priority }}", "value": "p"}]})
    assert priority.ok and priority.outputs == {"result": "p", "case": 0}


def test_without_a_task_a_string_is_evaluated() -> None:
    assert check({"expression": "params.amount < 10"}, with_task=False).outputs == {"result": False, "passed": False}


def test_false_condition_is_not_a_failure() -> None:
    outcome = check({"expression": "false"})
    assert outcome.ok and outcome.outputs["passed"] is False


def test_first_matching_case_wins() -> None:
    declared = {
        "cases": [
            {"when": "params.amount > 5000", "value": "huge"},
            {"when": "params.amount > 1000", "value": "{{ params.priority }}"},
            {"when": "true", "value": "any"},
        ],
        "default": "none",
    }
    assert check(declared).outputs == {"result": "high", "case": 1}


def test_default_when_no_case_matches() -> None:
    declared = {"cases": [{"when": "params.amount < 0", "value": "negative"}], "default": {"route": "standard"}}
    assert check(declared).outputs == {"result": {"route": "standard"}, "case": None}
    assert check({"cases": []}).outputs == {"result": None, "case": None}


@pytest.mark.parametrize("declared", [{"expression": "params.missing > 1"}, {"cases": [{"when": "1 +", "value": 1}]}])
def test_unevaluable_expression_fails(declared: dict[str, Any]) -> None:
    outcome = check(declared)
    assert not outcome.ok and outcome.kind == "error" and "cannot be evaluated" in outcome.error


def test_action_is_inline() -> None:
    action = ConditionCheckAction()
    assert action.inline is True and action.name == "condition_check"


@pytest.mark.parametrize(
    ("params", "paths"),
    [
        ({"expression": "x"}, []),
        ({"cases": [{"when": "x", "value": 1}], "default": 0}, []),
        ({}, ["p"]),
        ({"expression": "x", "cases": []}, ["p"]),
        ({"expression": "x", "default": 1}, ["p.default"]),
        ({"expression": "x", "colour": 1}, ["p.colour"]),
        ({"cases": "x"}, ["p.cases"]),
        ({"cases": [{"value": 1}, 3, {"when": "x", "then": 1}]}, ["p.cases[0].when", "p.cases[1]", "p.cases[2].then"]),
    ],
)
def test_validate(params: dict[str, Any], paths: list[str]) -> None:
    assert [issue.path for issue in ConditionCheckAction().validate(params, "p")] == paths
