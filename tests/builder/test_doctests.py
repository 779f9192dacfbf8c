"""The examples in the builder's docstrings run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["expr", "handles", "fields", "kinds", "workflow", "deps"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"workflow_cli.builder.{name}")
    failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert failures == 0
    assert tried > 0 or name == "workflow"
