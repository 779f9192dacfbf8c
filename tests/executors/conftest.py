"""A real Dask cluster on 127.0.0.1 for the dask executor tests: one scheduler and worker processes.

The scheduler and each worker are ``dask scheduler`` / ``dask worker --no-nanny`` child processes of the
test run (a worker without a nanny is one process, so its pid is the pid a task sees as its parent and
the one a test kills). Workers get a module folder on their PYTHONPATH for python tasks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

distributed = pytest.importorskip("distributed")

DASK = str(Path(sys.executable).with_name("dask"))
WORKER_MODULE = '''
import os


def where(tag="x"):
    """The worker process a python task ran in."""
    return {"pid": os.getpid(), "tag": tag}
'''


def _wait_for(predicate: Any, what: str, timeout: float = 60.0) -> None:
    """Poll until ``predicate()`` is true (a readiness wait: a slow machine only makes it longer)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Cluster:
    """A scheduler and worker processes; :meth:`ensure_workers` replaces killed ones."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.modules = root / "modules"
        self.modules.mkdir()
        (self.modules / "wf_dask_probe.py").write_text(WORKER_MODULE)
        self.env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0",
                    "PYTHONPATH": os.pathsep.join(p for p in (str(self.modules), os.environ.get("PYTHONPATH", "")) if p)}
        self.dask = DASK
        self.logs = root / "logs"
        self.logs.mkdir()
        sched_file = root / "scheduler.json"
        self.scheduler = self.spawn("scheduler", [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                                   "--scheduler-file", str(sched_file)])
        _wait_for(lambda: sched_file.exists() and sched_file.stat().st_size > 0, "the scheduler file")
        self.address = json.loads(sched_file.read_text())["address"]
        self.workers: list[subprocess.Popen[bytes]] = []
        self.client = distributed.Client(self.address, timeout=30, set_as_default=False)

    def spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        with open(self.logs / f"{name}.log", "ab") as log:
            return subprocess.Popen(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, cwd=self.root)

    def alive(self) -> list[subprocess.Popen[bytes]]:
        return [w for w in self.workers if w.poll() is None]

    def worker_pids(self) -> set[int]:
        return {w.pid for w in self.alive()}

    def ensure_workers(self, n: int) -> None:
        """Start workers until ``n`` are alive and registered with the scheduler."""
        while len(self.alive()) < n:
            self.workers.append(self.spawn(f"worker-{len(self.workers)}", [
                self.dask, "worker", self.address, "--nthreads", "2", "--no-nanny", "--no-dashboard", "--host", "127.0.0.1",
                "--local-directory", str(self.root / "scratch")]))
        pids = self.worker_pids()
        _wait_for(lambda: set(self.client.run(os.getpid).values()) == pids, f"{n} workers to register")

    def close(self) -> None:
        self.client.close()
        for proc in [*self.workers, self.scheduler]:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in [*self.workers, self.scheduler]:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A scheduler and two workers of two threads for the whole module."""
    c = Cluster(tmp_path_factory.mktemp("dask"))
    try:
        c.ensure_workers(2)
        yield c
    finally:
        c.close()


@pytest.fixture
def dask_cluster(cluster: Cluster) -> Cluster:
    """The module's cluster with its two workers alive (a test may have killed one)."""
    cluster.ensure_workers(2)
    return cluster
