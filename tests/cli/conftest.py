"""Fixtures for the command-line tests: small documents and home templates."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Callable

import pytest

SMALL_DOC: dict[str, Any] = {
    "version": "2.0.0",
    "name": "Small",
    "description": "two no-op tasks",
    "tasks": {
        "first": {"name": "First", "action": "noop"},
        "second": {"name": "Second", "action": "noop", "dependencies": ["first"]},
    },
}

# A home template declaring one parameter of every kind, a secret among them.
PARAMS_TEMPLATE = """\
version: "2.0.0"
name: Params demo
description: one parameter of every kind
category: tests
parameters:
  token: {type: string, secret: true, required: true, description: an API token}
  region: {type: string, default: eu, enum: [eu, us, ap]}
  code: {type: string, default: AB-1, pattern: "[A-Z]{2}-[0-9]+"}
  count: {type: integer, default: 1, minimum: 0, maximum: 10}
  ratio: {type: number, default: 0.5}
  enabled: {type: boolean, default: false}
  items: {type: array, default: []}
  extra: {type: object, default: {}}
tasks:
  show:
    name: Show
    action: command
    parameters:
      command: "echo region={{ params.region }} count={{ params.count }}"
  done:
    action: noop
    dependencies: [show]
"""

# Echoes a parameter into its outputs and its log: used to prove values are never evaluated.
ECHO_TEMPLATE = """\
version: "2.0.0"
name: Echo
parameters:
  who: {type: string, default: world}
tasks:
  greet:
    action: command
    parameters:
      command: "echo greeting={{ params.who }} > \\"$WORKFLOW_OUTPUT\\"; echo said {{ params.who }}"
"""


@pytest.fixture
def small_doc() -> Callable[..., dict[str, Any]]:
    """A fresh copy of a valid two-task document, with top-level fields overridden."""

    def _doc(**overrides: Any) -> dict[str, Any]:
        doc = copy.deepcopy(SMALL_DOC)
        doc.update(overrides)
        return doc

    return _doc


@pytest.fixture
def home_template(home: Path) -> Callable[[str, Any], Path]:
    """``home_template("name.yaml", text_or_dict)`` writes a template into the home."""

    def _write(filename: str, content: Any) -> Path:
        path = home / "templates" / filename
        path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def params_template(home_template: Callable[[str, Any], Path]) -> str:
    """The name of a home template declaring every kind of parameter (``token`` is a required secret)."""
    home_template("params_demo.yaml", PARAMS_TEMPLATE)
    return "params_demo"


@pytest.fixture
def echo_template(home_template: Callable[[str, Any], Path]) -> str:
    """The name of a home template whose command echoes ``params.who``."""
    home_template("echo.yaml", ECHO_TEMPLATE)
    return "echo"
