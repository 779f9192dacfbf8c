"""The schema-check cache (ops/schema_cache.py) never accepts a changed document."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from workflow_cli.ops.schema_cache import document_key

DOC = {"version": "2.0.0", "name": "cached", "max_parallel": 2, "tasks": {"a": {"action": "noop"}}}


def cached_keys(home: Path) -> set[str]:
    with sqlite3.connect(home / "index.sqlite3") as conn:
        return {row[0] for row in conn.execute("SELECT key FROM schema_ok")}


def test_a_changed_document_is_checked_again(sh, write, home):
    path = write("doc.json", DOC)
    assert sh("create", path, "-q").exit_code == 0
    assert cached_keys(home) == {document_key(DOC)}
    assert sh("create", path, "-q").exit_code == 0  # the same bytes: the cache answers
    for broken in ({**DOC, "max_parallel": "2"}, {**DOC, "max_parallel": 0}, {**DOC, "tasks": {"a": {"action": "noop", "retyr": 1}}}):
        path.write_text(json.dumps(broken))
        result = sh("create", path, "--json")
        assert result.exit_code == 2, (broken, result)
    assert cached_keys(home) == {document_key(DOC)}  # failures add nothing


def test_keys_differ_for_any_change_and_refuse_inexact_values():
    import datetime

    assert document_key(DOC) == document_key(json.loads(json.dumps(DOC)))
    assert document_key(DOC) == document_key(dict(reversed(list(DOC.items()))))  # key order does not matter
    assert document_key({**DOC, "max_parallel": 2.0}) != document_key(DOC)  # 2.0 and 2 are different documents
    assert document_key({**DOC, "name": "cached "}) != document_key(DOC)
    assert document_key({**DOC, "description": datetime.date(2026, 1, 1)}) is None  # a YAML date is not a string
    assert document_key({**DOC, "max_parallel": 2**70}) is None


def test_a_failed_create_leaves_no_cache_entry(sh, write, home):
    path = write("doc.json", {**DOC, "parameters": {"n": {"type": "integer", "required": True}}})
    result = sh("create", path, "--json")
    assert result.exit_code == 2, result
    assert not (home / "index.sqlite3").exists() or not cached_keys(home)
