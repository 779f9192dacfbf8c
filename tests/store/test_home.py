"""Home folder resolution (SPEC 2) and safe creation (SPEC 14)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from workflow_cli.errors import InvalidInputError
from workflow_cli.store.home import Home, init_home, make_private_dir, resolve_home


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    work = tmp_path / "work" / "project" / "sub"
    work.mkdir(parents=True)
    return work


def test_explicit_wins_over_everything(tmp_path: Path, cwd: Path) -> None:
    (cwd / "instances").mkdir()
    env = {"WORKFLOW_HOME": str(tmp_path / "envhome")}
    assert resolve_home(str(tmp_path / "flag"), env=env, cwd=cwd) == tmp_path / "flag"


def test_relative_explicit_is_taken_from_cwd(cwd: Path) -> None:
    assert resolve_home("../h", env={}, cwd=cwd) == cwd.parent / "h"


def test_env_wins_over_discovery(tmp_path: Path, cwd: Path) -> None:
    (cwd / "instances").mkdir()
    assert resolve_home(None, env={"WORKFLOW_HOME": str(tmp_path / "e")}, cwd=cwd) == tmp_path / "e"


def test_empty_env_value_is_ignored(cwd: Path) -> None:
    (cwd.parent / ".workflow-home").write_text("")
    assert resolve_home(None, env={"WORKFLOW_HOME": ""}, cwd=cwd) == cwd.parent


@pytest.mark.parametrize("marker", ["instances_dir", "marker_file"])
def test_nearest_ancestor_is_found(cwd: Path, marker: str) -> None:
    project = cwd.parent
    (project.parent / "instances").mkdir()  # farther away: must lose
    if marker == "instances_dir":
        (project / "instances").mkdir()
    else:
        (project / ".workflow-home").write_text("")
    assert resolve_home(env={}, cwd=cwd) == project


def test_a_file_named_instances_does_not_count(tmp_path: Path, cwd: Path) -> None:
    (cwd / "instances").write_text("")
    home = resolve_home(env={"HOME": str(tmp_path / "u")}, cwd=cwd, platform="linux")
    assert home == tmp_path / "u" / ".local" / "share" / "workflow-cli"


def test_platform_user_data_folders(tmp_path: Path, cwd: Path) -> None:
    user = tmp_path / "u"
    env = {"HOME": str(user)}
    assert resolve_home(env=env, cwd=cwd, platform="linux") == user / ".local/share/workflow-cli"
    xdg = {**env, "XDG_DATA_HOME": str(tmp_path / "xdg")}
    assert resolve_home(env=xdg, cwd=cwd, platform="linux") == tmp_path / "xdg" / "workflow-cli"
    relative_xdg = {**env, "XDG_DATA_HOME": "rel"}
    assert resolve_home(env=relative_xdg, cwd=cwd, platform="linux") == user / ".local/share/workflow-cli"
    assert resolve_home(env=env, cwd=cwd, platform="darwin") == user / "Library/Application Support/workflow-cli"


def test_paths_inside_a_home(tmp_path: Path) -> None:
    home = Home(tmp_path)
    assert home.instance_dir("abc") == tmp_path / "instances" / "abc"
    assert home.checkpoint_dir("abc") == tmp_path / "checkpoints" / "abc"
    assert home.agents_file.name == "agents.yaml" and home.config_file.name == "config.yaml"
    for bad in ["", "..", "a/b", "."]:
        with pytest.raises(InvalidInputError):
            home.instance_dir(bad)


def test_ensure_creates_private_folders_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        home = Home(tmp_path / "new" / "home").ensure()
    finally:
        os.umask(old)
    for folder in [home.root, home.templates, home.instances, home.checkpoints, home.monitoring, home.cache]:
        assert folder.is_dir()
        assert folder.stat().st_mode & 0o777 == 0o700


def test_ensure_leaves_existing_folders_alone(tmp_path: Path) -> None:
    (tmp_path / "instances").mkdir(mode=0o755)
    os.chmod(tmp_path / "instances", 0o755)
    os.chmod(tmp_path, 0o755)
    Home(tmp_path).ensure()
    assert (tmp_path / "instances").stat().st_mode & 0o777 == 0o755


@pytest.mark.parametrize("mode", [0o777, 0o775, 0o757])
def test_home_writable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    root = tmp_path / "shared"
    root.mkdir()
    os.chmod(root, mode)
    for check in (Home(root).ensure, Home(root).check_readable):
        with pytest.raises(InvalidInputError) as info:
            check()
        assert f"chmod go-w {root}" in str(info.value)
        assert info.value.exit_code == 2
    assert _tree(root) == []


def test_check_readable_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    Home(missing).check_readable()
    assert not missing.exists()
    existing = tmp_path / "h"
    existing.mkdir(mode=0o700)
    Home(existing).check_readable()
    assert _tree(existing) == []


def test_init_home_writes_marker_once(tmp_path: Path) -> None:
    home = init_home(tmp_path / "h")
    text = home.marker_file.read_text()
    assert text.startswith("#") and "format: 1" in text
    assert home.marker_file.stat().st_mode & 0o777 == 0o600
    assert resolve_home(env={}, cwd=home.instances) == home.root
    home.marker_file.write_text("# kept\nformat: 1\n")
    init_home(tmp_path / "h")
    assert home.marker_file.read_text() == "# kept\nformat: 1\n"


def test_make_private_dir(tmp_path: Path) -> None:
    made = make_private_dir(tmp_path / "a" / "b")
    assert made.stat().st_mode & 0o777 == 0o700
    assert make_private_dir(made) == made
