"""The request mailbox of a live runner."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflow_cli.errors import InvalidInputError, StateError
from workflow_cli.store.requests import ack_request, pending_requests, post_request


def test_requests_come_back_oldest_first_until_acked(tmp_path: Path) -> None:
    kinds = ["stop", "approve", "signal", "cancel"]
    paths = [post_request(tmp_path, kind, {"n": i}, actor="bob") for i, kind in enumerate(kinds)]
    pending = pending_requests(tmp_path)
    assert [p for p, _ in pending] == paths
    assert [r["kind"] for _, r in pending] == kinds
    first = pending[0][1]
    assert first["data"] == {"n": 0} and first["actor"] == "bob" and first["v"] == 1
    assert first["id"] == paths[0].stem
    assert paths[0].stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "requests").stat().st_mode & 0o777 == 0o700
    ack_request(paths[0])
    ack_request(paths[0])  # twice is harmless
    assert [r["kind"] for _, r in pending_requests(tmp_path)] == kinds[1:]


def test_many_posts_from_one_process_never_collide(tmp_path: Path) -> None:
    paths = [post_request(tmp_path, "signal", {"i": i}) for i in range(300)]
    assert len(set(paths)) == 300
    assert [r["data"]["i"] for _, r in pending_requests(tmp_path)] == list(range(300))


def test_no_folder_means_no_requests(tmp_path: Path) -> None:
    assert pending_requests(tmp_path) == []
    assert not (tmp_path / "requests").exists()


def test_stray_and_temporary_files_are_ignored(tmp_path: Path) -> None:
    post_request(tmp_path, "stop", {})
    (tmp_path / "requests" / ".1-2-stop.json.abcd.tmp").write_text("{")
    (tmp_path / "requests" / "notes.txt").write_text("hi")
    assert [r["kind"] for _, r in pending_requests(tmp_path)] == ["stop"]


@pytest.mark.parametrize("kind", ["", "Stop", "../x", "a-b", "a b"])
def test_bad_kind_is_refused(tmp_path: Path, kind: str) -> None:
    with pytest.raises(InvalidInputError):
        post_request(tmp_path, kind, {})


def test_corrupt_request_is_reported(tmp_path: Path) -> None:
    path = post_request(tmp_path, "cancel", {})
    path.write_text("{")
    with pytest.raises(StateError, match="corrupt request file"):
        pending_requests(tmp_path)
