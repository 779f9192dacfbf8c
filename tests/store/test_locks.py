"""The runner lock (flock per instance) and the home lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from workflow_cli.errors import ConflictError
from workflow_cli.store.locks import InstanceLock, holder_info, home_lock, is_locked

_HOLDER = textwrap.dedent(
    """
    import sys, time
    from workflow_cli.store.locks import InstanceLock
    lock = InstanceLock(sys.argv[1])
    assert lock.acquire()
    print("locked", flush=True)
    time.sleep(600)
    """
)


@pytest.fixture
def lock_path(tmp_path: Path) -> Path:
    return tmp_path / "runner.lock"


def test_lock_is_exclusive_across_processes_and_freed_by_sigkill(lock_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(lock_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        assert is_locked(lock_path)
        info = holder_info(lock_path)
        assert info is not None and info["pid"] == holder.pid and info["started_at"].endswith("Z")
        assert InstanceLock(lock_path).acquire() is False
        with pytest.raises(ConflictError):
            with InstanceLock(lock_path):
                pass
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    assert not is_locked(lock_path)
    assert holder_info(lock_path) is None
    lock = InstanceLock(lock_path)
    assert lock.acquire() is True
    lock.release()


def test_second_lock_in_the_same_process_fails(lock_path: Path) -> None:
    first, second = InstanceLock(lock_path), InstanceLock(lock_path)
    assert first.acquire()
    assert first.acquire()  # already held by this object
    assert second.acquire() is False
    assert is_locked(lock_path)
    assert holder_info(lock_path)["pid"] == os.getpid()  # type: ignore[index]
    first.release()
    assert not is_locked(lock_path)
    assert second.acquire()
    second.release()
    first.release()  # releasing twice is harmless


def test_context_manager_releases(lock_path: Path) -> None:
    with InstanceLock(lock_path) as lock:
        assert lock.held and is_locked(lock_path)
    assert not lock.held and not is_locked(lock_path)


def test_is_locked_does_not_create_the_file(lock_path: Path) -> None:
    assert is_locked(lock_path) is False
    assert holder_info(lock_path) is None
    assert not lock_path.exists()


def test_probe_does_not_make_a_starting_runner_fail(lock_path: Path) -> None:
    lock_path.touch()
    stop = threading.Event()

    def probe() -> None:
        while not stop.is_set():
            is_locked(lock_path)

    thread = threading.Thread(target=probe)
    thread.start()
    try:
        for _ in range(50):
            lock = InstanceLock(lock_path)
            assert lock.acquire()
            lock.release()
    finally:
        stop.set()
        thread.join()


def test_replaced_lock_file_is_not_trusted(lock_path: Path) -> None:
    lock = InstanceLock(lock_path)
    assert lock.acquire()
    lock_path.unlink()  # e.g. the instance folder was pruned and recreated
    other = InstanceLock(lock_path)
    assert other.acquire()  # locks the new file, not the orphaned one
    other.release()
    lock.release()


def test_home_lock_serializes(tmp_path: Path) -> None:
    inside: list[int] = []
    overlap: list[bool] = []

    def work() -> None:
        for _ in range(20):
            with home_lock(tmp_path):
                inside.append(1)
                overlap.append(len(inside) > 1)
                time.sleep(0.0005)
                inside.pop()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(overlap) == 80 and not any(overlap)
    assert (tmp_path / ".lock").exists()


def test_home_lock_times_out(tmp_path: Path) -> None:
    with home_lock(tmp_path):
        with pytest.raises(ConflictError):
            with home_lock(tmp_path, timeout=0.05):
                pass
