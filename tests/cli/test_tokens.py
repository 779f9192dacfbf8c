"""``token create|list|revoke`` (SPEC 18.2): printed once, stored as a hash, mode 0600."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path
from typing import Any


def test_create_prints_the_token_once_and_stores_only_its_hash(cli: Any, home: Path) -> None:
    made = cli("token", "create", "ann", "--role", "operator")
    assert made.exit_code == 0, made
    token = made.stdout.strip()
    assert token.startswith("wfc_") and len(token) > 40
    stored = (home / "tokens.json").read_text()
    assert token not in stored and hashlib.sha256(token.encode()).hexdigest() in stored
    assert stat.S_IMODE((home / "tokens.json").stat().st_mode) == 0o600
    listed = cli("--json", "token", "list")
    assert [(t["name"], t["role"]) for t in listed.json()] == [("ann", "operator")]
    assert token not in listed.stdout and "hash" not in listed.stdout


def test_names_are_unique_and_revoke_removes(sh: Any, home: Path) -> None:
    assert sh("token", "create", "bob").exit_code == 0
    again = sh("token", "create", "bob", "--role", "admin")
    assert again.exit_code == 5 and "revoke it first" in again.stderr
    assert json.loads(sh("--json", "token", "list").stdout)[0]["role"] == "viewer"  # the default role
    assert sh("token", "revoke", "bob").exit_code == 0
    assert json.loads(sh("--json", "token", "list").stdout) == []
    gone = sh("token", "revoke", "bob")
    assert gone.exit_code == 4 and "no token named 'bob'" in gone.stderr


def test_bad_names_and_roles_exit_2_and_change_nothing(cli: Any, home: Path, snapshot_tree: Any) -> None:
    before = snapshot_tree(home)
    role = cli("token", "create", "eve", "--role", "operater")
    assert role.exit_code == 2 and "did you mean 'operator'" in role.stderr
    for name in ("a b", "../x", "", "x" * 65):
        bad = cli("token", "create", name)
        assert bad.exit_code == 2 and "invalid token name" in bad.stderr, bad
    assert snapshot_tree(home) == before


def test_serve_refuses_a_bad_host(sh: Any) -> None:
    result = sh("serve", "--host", "no-such-host.invalid", "--port", "0")
    assert result.exit_code == 2 and "--host" in result.stderr
