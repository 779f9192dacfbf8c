"""Real attempts to escape the workspace while ``file_operation`` runs (SPEC 14 "Files").

A thread swaps a workspace folder for a symlink to a folder outside and back, as fast as it can, while the
action reads, writes, appends, makes folders, lists, copies, checksums and deletes through that folder
hundreds of times: nothing outside may ever be read, created, changed or removed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from workflow_cli.actions.base import ActionContext, ActionResult
from workflow_cli.actions.file_operation import FileOperationAction

ROUNDS = 300
SECRET_SHA256 = hashlib.sha256(b"SECRET").hexdigest()


def run(workspace: Path, **params: Any) -> ActionResult:
    ctx = ActionContext(instance_id="i", task_id="t", attempt=1, parameters=params, workspace=workspace,
                        log=lambda line: None, config={})
    return FileOperationAction().run(ctx)


class Swapper(threading.Thread):
    """Swaps ``ws/dir`` (a real folder) with ``ws/link`` (a symlink to ``outside``) until stopped."""

    def __init__(self, workspace: Path) -> None:
        super().__init__(daemon=True)
        self.ws = workspace
        self.stop = threading.Event()
        self.swaps = 0
        self.first = threading.Event()

    def run(self) -> None:
        d, link, hold = self.ws / "dir", self.ws / "link", self.ws / "hold"
        while not self.stop.is_set():
            os.rename(d, hold)  # dir -> hold, link -> dir: "dir" is now the symlink
            self._put(link, d)
            os.rename(d, link)  # and back: "dir" is the real folder again
            self._put(hold, d)
            self.swaps += 1
            self.first.set()

    @staticmethod
    def _put(src: Path, dst: Path) -> None:
        """rename, after removing what the action made at ``dst`` in the instant it was missing (inside)."""
        while True:
            try:
                os.rename(src, dst)
                return
            except OSError:
                shutil.rmtree(dst, ignore_errors=True)


@pytest.fixture
def arena(tmp_path: Path) -> tuple[Path, Path]:
    ws, outside = tmp_path / "ws", tmp_path / "outside"
    (ws / "dir").mkdir(parents=True)
    outside.mkdir()
    (ws / "dir" / "f.txt").write_text("inside")
    (outside / "f.txt").write_text("SECRET")
    (outside / "victim.txt").write_text("keep")
    (outside / "only-outside").write_text("")
    (ws / "link").symlink_to(outside)
    return ws, outside


OPERATIONS = [
    {"operation": "read", "path": "dir/f.txt"},
    {"operation": "checksum", "path": "dir/f.txt"},
    {"operation": "write", "path": "dir/out.txt", "content": "x"},
    {"operation": "write", "path": "dir/victim.txt", "content": "overwritten"},
    {"operation": "append", "path": "dir/victim.txt", "content": "appended"},
    {"operation": "mkdir", "path": "dir/made/deeper"},
    {"operation": "list", "path": "dir"},
    {"operation": "copy", "path": "dir/f.txt", "dest": "dir/copy.txt"},
    {"operation": "delete", "path": "dir/victim.txt"},
    {"operation": "delete", "path": "dir/made", "recursive": True},
    {"operation": "move", "path": "dir/copy.txt", "dest": "dir/moved.txt"},
    {"operation": "delete", "path": "dir/moved.txt"},
    {"operation": "exists", "path": "dir/victim.txt"},
]


def test_swapping_a_folder_for_a_symlink_never_reaches_outside(arena: tuple[Path, Path]) -> None:
    ws, outside = arena
    before = sorted(p.name for p in outside.iterdir())
    swapper = Swapper(ws)
    swapper.start()
    assert swapper.first.wait(10)
    leaks: list[str] = []
    try:
        for _ in range(ROUNDS):
            for params in OPERATIONS:
                result = run(ws, **params)
                outputs = result.outputs or {}
                if "SECRET" in str(outputs.get("content", "")) or "only-outside" in outputs.get("entries", []):
                    leaks.append(f"{params}: {outputs}")
                if outputs.get("checksum") == SECRET_SHA256:
                    leaks.append(str(params))
    finally:
        swapper.stop.set()
        swapper.join(10)
    assert swapper.swaps > 0
    assert leaks == []
    assert sorted(p.name for p in outside.iterdir()) == before, "something was created or removed outside"
    assert (outside / "victim.txt").read_text() == "keep" and (outside / "f.txt").read_text() == "SECRET"


def test_a_checksum_of_the_outside_file_would_be_recognised(arena: tuple[Path, Path]) -> None:
    """The leak check above is not vacuous: reading through the symlink directly is refused, not silently ok."""
    ws, _ = arena
    result = run(ws, operation="read", path="link/f.txt")
    assert not result.ok and "outside" in result.error


def test_writing_through_a_hard_link_is_refused(arena: tuple[Path, Path]) -> None:
    ws, outside = arena
    os.link(outside / "victim.txt", ws / "hard.txt")
    for params in ({"operation": "write", "content": "x"}, {"operation": "append", "content": "x"}):
        result = run(ws, path="hard.txt", **params)
        assert not result.ok and "hard link" in result.error
    assert (outside / "victim.txt").read_text() == "keep"
    (ws / "src.txt").write_text("new")
    assert run(ws, operation="copy", path="src.txt", dest="hard.txt").ok  # copy replaces the name, never writes through
    assert (outside / "victim.txt").read_text() == "keep" and (ws / "hard.txt").read_text() == "new"


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_fifo_or_device_in_the_workspace_is_refused_not_read_forever(arena: tuple[Path, Path], kind: str) -> None:
    ws, _ = arena
    if kind == "fifo":
        os.mkfifo(ws / "special")
    else:
        (ws / "special").symlink_to("/dev/zero")  # the only device a test can make: reached through a link
    for op in ("read", "checksum"):
        result = run(ws, operation=op, path="special")
        assert not result.ok, result
