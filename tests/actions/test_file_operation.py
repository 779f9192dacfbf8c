"""The file_operation action against real files: every operation, and the confinement rules (SPEC 6.4, 14)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from workflow_cli.actions.base import ActionContext, ActionResult
from workflow_cli.actions.file_operation import FileOperationAction


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    path.mkdir()
    return path


def run(workspace: Path, config: dict[str, Any] | None = None, **params: Any) -> ActionResult:
    """One attempt of the action with ``params`` in ``workspace``."""
    ctx = ActionContext(
        instance_id="inst-1", task_id="files", attempt=1, parameters=params, workspace=workspace,
        log=lambda line: None, config=config or {},
    )
    return FileOperationAction().run(ctx)


def test_write_read_append_round_trip(workspace: Path) -> None:
    wrote = run(workspace, operation="write", path="out/report.txt", content="héllo\n")
    assert wrote.ok and wrote.outputs == {"path": "out/report.txt", "bytes": 7}
    assert run(workspace, operation="append", path="out/report.txt", content="more").outputs["bytes"] == 4
    read = run(workspace, operation="read", path="out/report.txt")
    assert read.ok and read.outputs == {"content": "héllo\nmore", "bytes": 11}
    latin = run(workspace, operation="write", path="l1.txt", content="é", encoding="latin-1")
    assert latin.outputs["bytes"] == 1 and (workspace / "l1.txt").read_bytes() == b"\xe9"


def test_non_string_content_is_written_as_json(workspace: Path) -> None:
    assert run(workspace, operation="write", path="data.json", content={"rows": [1, 2]}).ok
    assert json.loads((workspace / "data.json").read_text()) == {"rows": [1, 2]}


def test_overwrite_false_keeps_an_existing_file(workspace: Path) -> None:
    (workspace / "keep.txt").write_text("old")
    result = run(workspace, operation="write", path="keep.txt", content="new", overwrite=False)
    assert not result.ok and result.kind == "error" and "keep.txt" in result.error
    assert (workspace / "keep.txt").read_text() == "old"


def test_copy_move_delete_mkdir_exists_list_checksum(workspace: Path) -> None:
    (workspace / "a.txt").write_text("abc")
    copied = run(workspace, operation="copy", path="a.txt", dest="b.txt")
    assert copied.outputs == {"path": "a.txt", "dest": "b.txt", "bytes": 3}
    assert run(workspace, operation="mkdir", path="sub/deep").outputs == {"path": "sub/deep"}
    moved = run(workspace, operation="move", path="b.txt", dest="sub")
    assert moved.outputs == {"path": "b.txt", "dest": "sub/b.txt", "bytes": 3}
    assert run(workspace, operation="exists", path="sub/b.txt").outputs == {"exists": True, "is_file": True, "is_dir": False}
    assert run(workspace, operation="exists", path="b.txt").outputs == {"exists": False, "is_file": False, "is_dir": False}
    assert run(workspace, operation="list", path=".").outputs == {"entries": ["a.txt", "sub"]}
    recursive = run(workspace, operation="list", path="sub", recursive=True)
    assert recursive.outputs == {"entries": ["b.txt", "deep"]}
    checksum = run(workspace, operation="checksum", path="a.txt")
    assert checksum.outputs == {"algorithm": "sha256", "checksum": hashlib.sha256(b"abc").hexdigest()}
    assert run(workspace, operation="checksum", path="a.txt", algorithm="md5").outputs["checksum"] == hashlib.md5(b"abc").hexdigest()
    assert run(workspace, operation="delete", path="a.txt").outputs == {"deleted": True}
    assert run(workspace, operation="delete", path="a.txt").outputs == {"deleted": False}
    not_empty = run(workspace, operation="delete", path="sub")
    assert not not_empty.ok and "recursive" in not_empty.error
    assert run(workspace, operation="delete", path="sub", recursive=True).outputs == {"deleted": True}
    assert not (workspace / "sub").exists()


def test_missing_file_fails_naming_the_path(workspace: Path) -> None:
    result = run(workspace, operation="read", path="nope.txt")
    assert not result.ok and result.kind == "error" and "nope.txt" in result.error


def test_the_workspace_itself_cannot_be_deleted(workspace: Path) -> None:
    result = run(workspace, operation="delete", path=".", recursive=True)
    assert not result.ok and workspace.is_dir()


@pytest.mark.parametrize("path", ["../escape.txt", "sub/../../escape.txt", "a/../b.txt"])
def test_dot_dot_is_refused(workspace: Path, path: str) -> None:
    result = run(workspace, operation="write", path=path, content="x")
    assert not result.ok and result.kind == "error" and "'..'" in result.error
    assert not (workspace.parent / "escape.txt").exists()


def test_absolute_path_outside_the_roots_is_refused(workspace: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    result = run(workspace, operation="read", path=str(outside))
    assert not result.ok and "outside the workspace and file_roots" in result.error and str(outside) in result.error
    assert not run(workspace, operation="read", path="/etc/hostname").ok


def test_absolute_path_inside_file_roots_is_allowed(workspace: Path, tmp_path: Path) -> None:
    root = tmp_path / "shared"
    root.mkdir()
    config = {"file_roots": [str(root)]}
    wrote = run(workspace, config, operation="write", path=str(root / "x.txt"), content="shared")
    assert wrote.ok and wrote.outputs["path"] == str((root / "x.txt").resolve())
    assert run(workspace, config, operation="read", path=str(root / "x.txt")).outputs["content"] == "shared"
    copied = run(workspace, config, operation="copy", path=str(root / "x.txt"), dest="local.txt")
    assert copied.ok and (workspace / "local.txt").read_text() == "shared"


def test_symlink_to_etc_is_refused_for_read(workspace: Path) -> None:
    (workspace / "etc").symlink_to("/etc")
    (workspace / "passwd").symlink_to("/etc/passwd")
    for path in ("etc/passwd", "passwd"):
        result = run(workspace, operation="read", path=path)
        assert not result.ok and result.kind == "error"
        assert "symlink" in result.error and "outside the workspace and file_roots" in result.error
    assert not run(workspace, operation="exists", path="etc").ok
    assert not run(workspace, operation="list", path="etc").ok


def test_dest_symlink_outside_is_refused_for_write(workspace: Path, tmp_path: Path) -> None:
    target = tmp_path / "outside" / "target.txt"
    target.parent.mkdir()
    (workspace / "out.txt").symlink_to(target)  # dangling: the write would create it
    (workspace / "away").symlink_to(target.parent)
    (workspace / "src.txt").write_text("data")
    assert not run(workspace, operation="write", path="out.txt", content="x").ok
    assert not run(workspace, operation="append", path="out.txt", content="x").ok
    assert not run(workspace, operation="write", path="away/new.txt", content="x").ok
    assert not run(workspace, operation="copy", path="src.txt", dest="out.txt").ok
    assert not run(workspace, operation="move", path="src.txt", dest="away").ok
    assert not target.exists() and list(target.parent.iterdir()) == []
    assert (workspace / "src.txt").exists()


def test_copy_into_a_folder_checks_the_entry_it_lands_on(workspace: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    (workspace / "in").mkdir()
    (workspace / "in" / "a.txt").symlink_to(victim)
    (workspace / "a.txt").write_text("overwrite?")
    result = run(workspace, operation="copy", path="a.txt", dest="in")
    assert not result.ok and victim.read_text() == "keep"


def test_symlink_inside_the_workspace_is_followed(workspace: Path) -> None:
    (workspace / "real.txt").write_text("inside")
    (workspace / "alias.txt").symlink_to(workspace / "real.txt")
    assert run(workspace, operation="read", path="alias.txt").outputs["content"] == "inside"
    assert run(workspace, operation="delete", path="alias.txt").outputs == {"deleted": True}
    assert (workspace / "real.txt").exists() and not (workspace / "alias.txt").exists()


def test_file_root_reached_through_a_symlink_is_still_confined(workspace: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "up").symlink_to(tmp_path)
    (tmp_path / "secret.txt").write_text("no")
    result = run(workspace, {"file_roots": [str(root)]}, operation="read", path=str(root / "up" / "secret.txt"))
    assert not result.ok and "symlink" in result.error


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"path": "a"}, "operation"),
        ({"operation": "raed", "path": "a"}, "operation"),
        ({"operation": "read"}, "path"),
        ({"operation": "copy", "path": "a"}, "dest"),
        ({"operation": "read", "path": "a", "colour": "red"}, "colour"),
        ({"operation": "checksum", "path": "a", "algorithm": "crc32"}, "algorithm"),
        ({"operation": "write", "path": "a"}, "content"),
    ],
)
def test_validate_reports_bad_parameters(params: dict[str, Any], where: str) -> None:
    issues = FileOperationAction().validate(params, "tasks.t.parameters")
    assert [issue.path for issue in issues] == [f"tasks.t.parameters.{where}"]


def test_validate_suggests_the_operation() -> None:
    issues = FileOperationAction().validate({"operation": "raed", "path": "a"}, "p")
    assert issues[0].hint == "did you mean 'read'?"
    assert FileOperationAction().validate({"operation": "{{ params.op }}", "path": "a"}, "p") == []


def test_unknown_operation_at_run_time_fails(workspace: Path) -> None:
    result = run(workspace, operation="remove", path="a")
    assert not result.ok and "unknown operation" in result.error


def test_read_outputs_are_capped(workspace: Path) -> None:
    (workspace / "big.bin").write_bytes(b"x" * (1024 * 1024 + 1))
    result = run(workspace, operation="read", path="big.bin")
    assert not result.ok and result.kind == "output"


def test_action_shape() -> None:
    action = FileOperationAction()
    assert action.name == "file_operation" and action.inline is False and action.shell_fields == ()
