"""SPEC 14: secret values encrypted at rest with a key kept outside the home."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

SECRET = "pa55-Wd-zz81-secret"
DOC = {"version": "2.0.0", "name": "sealed",
       "parameters": {"token": {"type": "string", "secret": True, "required": True}},
       "tasks": {"use": {"action": "command",
                         "parameters": {"command": "test {{ params.token }} = " + SECRET + " && echo ok > \"$WORKFLOW_WORKSPACE/used.txt\""}}}}


def _key_file() -> Path:
    return Path(os.environ["XDG_CONFIG_HOME"]) / "workflow-cli" / "secret.key"


@pytest.fixture
def fresh_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty config folder of this test's own (no key yet)."""
    folder = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder))
    monkeypatch.delenv("WORKFLOW_SECRET_KEY", raising=False)
    return folder


def _create(sh, write, env=None) -> str:
    result = sh("--quiet", "create", write("sealed.yaml", yaml.safe_dump(DOC)), "--param", f"token={SECRET}", env=env)
    assert result.exit_code == 0, result
    return result.stdout.strip().splitlines()[-1]


def test_secrets_are_encrypted_with_a_key_made_on_first_use(fresh_config, sh, write, home):
    assert not fresh_config.exists()
    iid = _create(sh, write)
    key = fresh_config / "workflow-cli" / "secret.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    assert not list(home.rglob("secret.key"))  # the key is never in the home
    sealed = home / "instances" / iid / "secrets.json"
    content = json.loads(sealed.read_text())
    assert content["$format"] == "fernet-1" and SECRET not in sealed.read_text()
    from cryptography.fernet import Fernet

    assert json.loads(Fernet(key.read_bytes().strip()).decrypt(content["$token"].encode())) == {"token": SECRET}
    run = sh("start", iid)
    assert run.exit_code == 0, run
    assert (home / "instances" / iid / "workspace" / "used.txt").read_text() == "ok\n"


def test_the_key_can_come_from_the_environment(fresh_config, sh, write, home):
    from cryptography.fernet import Fernet

    env = {"WORKFLOW_SECRET_KEY": Fernet.generate_key().decode()}
    iid = _create(sh, write, env=env)
    assert not fresh_config.exists()  # no key file made when the variable gives the key
    assert sh("start", iid, env=env).exit_code == 0


def test_a_home_copied_without_its_key_yields_no_secret(fresh_config, sh, write, home, tmp_path, snapshot_tree):
    from cryptography.fernet import Fernet

    iid = _create(sh, write)
    copy = tmp_path / "copied-home"
    shutil.copytree(home, copy)
    before = snapshot_tree(copy)
    other = {"WORKFLOW_HOME": str(copy), "WORKFLOW_SECRET_KEY": Fernet.generate_key().decode()}
    for env in (other, {"WORKFLOW_HOME": str(copy), "XDG_CONFIG_HOME": str(tmp_path / "elsewhere")}):
        for args in (("start", iid), ("start", iid, "--detach")):
            result = sh(*args, env=env)
            assert result.exit_code == 2, result
            assert "secrets.json" in result.stderr or "no key" in result.stderr, result
            assert "WORKFLOW_SECRET_KEY" in result.stderr and result.stderr.count("\n") <= 2, result
            assert SECRET not in result.stdout + result.stderr
        # a rollback with nothing to undo needs no secret: it says so and changes nothing (SPEC 7.3)
        noop = sh("rollback", iid, "--checkpoint", "start", env=env)
        assert noop.exit_code == 0 and "nothing to roll back" in noop.stdout, noop
        assert SECRET not in noop.stdout + noop.stderr
    assert not (tmp_path / "elsewhere").exists()  # reading never makes a key
    after = snapshot_tree(copy)
    lock = f"instances/{iid}/runner.lock"  # taken and released: its content may change, nothing else does
    assert {k: v for k, v in after.items() if k != lock} == {k: v for k, v in before.items() if k != lock}
    assert sh("start", iid).exit_code == 0  # the original home with its key still works


def test_a_malformed_key_is_refused_and_nothing_is_created(fresh_config, sh, write, home, snapshot_tree):
    before = snapshot_tree(home)
    result = sh("create", write("sealed.yaml", yaml.safe_dump(DOC)), "--param", f"token={SECRET}",
                env={"WORKFLOW_SECRET_KEY": "not-a-key"})
    assert result.exit_code == 2, result
    assert "$WORKFLOW_SECRET_KEY is not a Fernet key" in result.stderr
    assert snapshot_tree(home) == before


def test_a_key_file_others_can_read_is_refused(fresh_config, sh, write, home):
    iid = _create(sh, write)
    key = fresh_config / "workflow-cli" / "secret.key"
    os.chmod(key, 0o644)
    result = sh("start", iid)
    assert result.exit_code == 2, result
    assert "chmod 600" in result.stderr


def test_a_plaintext_secrets_file_of_an_older_release_is_read_and_encrypted(fresh_config, sh, write, home):
    iid = _create(sh, write)
    sealed = home / "instances" / iid / "secrets.json"
    sealed.write_text(json.dumps({"token": SECRET}))  # as releases before encryption wrote it
    os.chmod(sealed, 0o600)
    run = sh("start", iid)
    assert run.exit_code == 0, run
    assert (home / "instances" / iid / "workspace" / "used.txt").exists()
    assert SECRET not in sealed.read_text() and json.loads(sealed.read_text())["$format"] == "fernet-1"
    assert stat.S_IMODE(sealed.stat().st_mode) == 0o600


def test_processes_making_the_key_at_once_agree_on_one_key(fresh_config):
    code = "from workflow_cli.store.secret_box import load_key; print(load_key(create=True).decode())"
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=dict(os.environ))
             for _ in range(6)]
    keys = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert len(keys) == 1
    assert _key_file().read_text().strip() == keys.pop()
    assert [p.name for p in _key_file().parent.iterdir()] == ["secret.key"]  # no temporary file left


def test_the_config_folder_follows_the_platform():
    from workflow_cli.store.secret_box import config_dir

    assert config_dir({"HOME": "/h"}, "linux") == Path("/h/.config/workflow-cli")
    assert config_dir({"HOME": "/h", "XDG_CONFIG_HOME": "relative"}, "linux") == Path("/h/.config/workflow-cli")
    assert config_dir({"HOME": "/h", "XDG_CONFIG_HOME": "/x"}, "darwin") == Path("/x/workflow-cli")
    assert config_dir({"HOME": "/h"}, "darwin") == Path("/h/Library/Application Support/workflow-cli")
    assert config_dir({"HOME": "/h", "APPDATA": "/app"}, "win32") == Path("/app/workflow-cli")


def test_the_suite_never_touches_the_real_config_folder(tmp_path_factory, sh):
    assert Path(os.environ["XDG_CONFIG_HOME"]).is_relative_to(tmp_path_factory.getbasetemp())
    assert "WORKFLOW_SECRET_KEY" not in os.environ
    assert sh.env["XDG_CONFIG_HOME"] == os.environ["XDG_CONFIG_HOME"]  # CLI subprocesses too


def test_version_does_not_import_cryptography():
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "workflow_cli", "--version"],
                         capture_output=True, text=True, timeout=60, check=True)
    assert "cryptography" not in out.stderr
