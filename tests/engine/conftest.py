"""Fixtures for engine tests: a private home in ``tmp_path`` and helpers to create, run and inspect instances."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import pytest

from workflow_cli.store.home import Home
from workflow_cli.store.instances import InstancePaths, load_state
from workflow_cli.store.events import read_events

CLI = [sys.executable, "-m", "workflow_cli"]


def doc(tasks: Mapping[str, Any], **top: Any) -> dict[str, Any]:
    """A minimal 2.0.0 document."""
    return {"version": "2.0.0", "name": top.pop("name", "test"), **top, "tasks": dict(tasks)}


def sh(command: str | list[str], **task: Any) -> dict[str, Any]:
    """A ``command`` task."""
    return {"action": "command", "parameters": {"command": command}, **task}


def pid_gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (a zombie waiting for a reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state == b"Z"


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Poll until ``predicate`` is truthy; fail the test after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {getattr(predicate, '__name__', predicate)}")
        time.sleep(interval)


@dataclass
class Engine:
    """One home and the helpers the tests use on it."""

    home: Home
    tmp: Path
    env: dict[str, str]
    _docs: int = 0
    _procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    # -- instances --------------------------------------------------------------------------------------
    def create(self, tasks: Mapping[str, Any], **top: Any) -> str:
        from workflow_cli.ops.create import create_instance

        self._docs += 1
        path = self.tmp / f"wf{self._docs}.json"
        path.write_text(json.dumps(doc(tasks, **top)), encoding="utf-8")
        work = self.tmp / "work"  # the base directory: where command tasks run (SPEC 6.2)
        work.mkdir(exist_ok=True)
        return create_instance(self.home, str(path), workdir=work).id

    def paths(self, iid: str) -> InstancePaths:
        return InstancePaths(self.home.instances / iid)

    def state(self, iid: str) -> dict[str, Any]:
        return load_state(self.paths(iid))

    def statuses(self, iid: str) -> dict[str, str]:
        return {tid: ts["status"] for tid, ts in self.state(iid)["tasks"].items()}

    def events(self, iid: str, etype: str | None = None) -> list[dict[str, Any]]:
        events = read_events(self.paths(iid).events)
        return [e for e in events if etype is None or e["type"] == etype]

    def workspace(self, iid: str) -> Path:
        """Where the instance's command tasks run and write their relative files: its base directory."""
        return Path(self.state(iid)["base_dir"])

    def log(self, iid: str, task: str) -> str:
        return self.paths(iid).task_log(task).read_text(encoding="utf-8")

    # -- running ----------------------------------------------------------------------------------------
    def start(self, iid: str, **kw: Any) -> Any:
        from workflow_cli.ops.run import start

        return start(self.home, iid, **kw)

    def resume(self, iid: str, **kw: Any) -> Any:
        from workflow_cli.ops.run import resume

        return resume(self.home, iid, **kw)

    def retry(self, iid: str, **kw: Any) -> Any:
        from workflow_cli.ops.run import retry

        return retry(self.home, iid, **kw)

    def run(self, tasks: Mapping[str, Any], **top: Any) -> tuple[str, Any]:
        iid = self.create(tasks, **top)
        return iid, self.start(iid)

    def start_in_thread(self, iid: str) -> tuple[threading.Thread, dict[str, Any]]:
        """Run ``start`` in a thread; the box gets ``result`` or ``error``."""
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["result"] = self.start(iid)
            except BaseException as exc:  # noqa: BLE001 - reported to the test
                box["error"] = exc

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        return thread, box

    def wait_status(self, iid: str, task: str, status: str, timeout: float = 10.0) -> None:
        wait_for(lambda: self.state(iid)["tasks"][task]["status"] == status, timeout)

    # -- the CLI ----------------------------------------------------------------------------------------
    def cli(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*CLI, "--home", str(self.home.root), *args], capture_output=True, text=True,
                              timeout=timeout, env=self.env)

    def cli_popen(self, *args: str) -> subprocess.Popen[bytes]:
        """A CLI process in its own process group (so a test can SIGKILL the whole runner)."""
        proc = subprocess.Popen([*CLI, "--home", str(self.home.root), *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=self.env, start_new_session=True)
        self._procs.append(proc)
        return proc

    pid_gone = staticmethod(pid_gone)
    wait_for = staticmethod(wait_for)

    def close(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            proc.wait(timeout=10)
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fresh home; a short kill grace so timeouts and force-stops end quickly."""
    monkeypatch.setenv("WORKFLOW_CLI_KILL_GRACE", "0.3")
    monkeypatch.delenv("WORKFLOW_HOME", raising=False)
    monkeypatch.delenv("WORKFLOW_CLI_TIME_OFFSET", raising=False)
    root = tmp_path / "home"
    home = Home(root).ensure()
    env = {**os.environ, "NO_COLOR": "1"}
    repo = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (repo, str(tmp_path), env.get("PYTHONPATH", "")) if p)
    monkeypatch.syspath_prepend(str(tmp_path))
    eng = Engine(home, tmp_path, env)
    yield eng
    eng.close()
