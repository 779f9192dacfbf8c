"""Atomic writes and strict JSON reads."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from workflow_cli.errors import StateError
from workflow_cli.store.atomic import read_json, write_bytes_atomic, write_json_atomic


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_write_json_round_trip_compact_and_private(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    write_json_atomic(path, {"b": 1, "a": "é"})
    assert path.read_text(encoding="utf-8") == '{"b":1,"a":"é"}\n'
    assert read_json(path) == {"b": 1, "a": "é"}
    assert path.stat().st_mode & 0o777 == 0o600


def test_mode_is_exact_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        write_bytes_atomic(tmp_path / "f", b"x", mode=0o640)
    finally:
        os.umask(old)
    assert (tmp_path / "f").stat().st_mode & 0o777 == 0o640


def test_non_finite_floats_are_stored_as_null(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    write_json_atomic(path, {"x": float("nan"), "y": [float("inf"), 1.5], "big": 2**70, 3: "k"})
    assert read_json(path) == {"x": None, "y": [None, 1.5], "big": 2**70, "3": "k"}


@pytest.mark.parametrize("bad", [{"x": {1, 2}}, {"x": object()}])
def test_serialization_failure_keeps_old_content_and_leaves_no_temp(tmp_path: Path, bad: object) -> None:
    path = tmp_path / "state.json"
    write_json_atomic(path, {"old": True})
    with pytest.raises((ValueError, TypeError)):
        write_json_atomic(path, bad)
    assert read_json(path) == {"old": True}
    assert _names(tmp_path) == ["state.json"]


def test_failed_rename_removes_temp_and_keeps_old(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "state.json"
    write_json_atomic(path, [1])

    def boom(src: object, dst: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk on fire"):
        write_json_atomic(path, [2])
    monkeypatch.undo()
    assert read_json(path) == [1]
    assert _names(tmp_path) == ["state.json"]


@pytest.mark.parametrize("content", [b"", b"  \n", b'{"a": 1', b"NaN", b'{"a": Infinity}', b"\xff\xfe", b"[" * 100_000])
def test_corrupt_file_is_a_state_error_naming_the_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    with pytest.raises(StateError) as info:
        read_json(path, what="instance state")
    assert str(path) in str(info.value)
    assert "corrupt instance state" in str(info.value)
    assert info.value.exit_code == 1


def test_missing_file_passes_through(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_json(tmp_path / "nope.json")


def test_written_json_is_standard(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    write_json_atomic(path, {"k": [1, 2.5, None, True, "ünï"]})
    assert json.loads(path.read_bytes()) == {"k": [1, 2.5, None, True, "ünï"]}
