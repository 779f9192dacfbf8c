"""Which executor a run uses (SPEC 17): ``--executor`` / ``--scheduler-address`` over ``config.yaml``'s ``executor``.

:func:`open_executor` connects to a Dask scheduler before anything is recorded, so an unreachable
one is exit 5 with the home unchanged; the session it returns hands the runner its executor factory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

from workflow_cli.errors import ConflictError, InvalidInputError
from workflow_cli.store.home import Home

KINDS = ("local", "dask")
DEFAULT_CONNECT_TIMEOUT = 10.0


@dataclass(frozen=True)
class ExecutorChoice:
    """The executor settings of one run, from the command line and the home's configuration."""

    kind: str = "local"
    scheduler_address: str | None = None
    resources: Mapping[str, float] = field(default_factory=dict)
    workspace: str | None = None
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT


def choose_executor(home: Home, executor: str | None = None, scheduler_address: str | None = None) -> ExecutorChoice:
    """The executor of a run: ``--executor`` over ``config.yaml``; ``--scheduler-address`` alone means dask."""
    from workflow_cli.store.config import load_config

    configured: Mapping[str, Any] = load_config(home).get("executor") or {}
    if executor is not None and executor not in KINDS:
        raise InvalidInputError.at("--executor", f"unknown executor '{executor}'", f"choose one of: {', '.join(KINDS)}")
    if executor == "local" and scheduler_address:
        raise InvalidInputError.at("--scheduler-address", "applies to --executor dask only")
    kind = executor or ("dask" if scheduler_address else str(configured.get("kind", "local")))
    if kind == "local":
        return ExecutorChoice()
    address = scheduler_address or configured.get("scheduler_address") or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if not address:
        raise InvalidInputError.at("--scheduler-address", "the dask executor needs the scheduler's address",
                                   "e.g. --scheduler-address tcp://127.0.0.1:8786, or executor.scheduler_address in config.yaml")
    return ExecutorChoice("dask", str(address), dict(configured.get("resources") or {}), configured.get("workspace"),
                          float(configured.get("connect_timeout_seconds", DEFAULT_CONNECT_TIMEOUT)))


class ExecutorSession:
    """A connected executor back end (a Dask client) for one run; :meth:`factory` builds the runner's executor."""

    def __init__(self, choice: ExecutorChoice, client: Any) -> None:
        self.choice = choice
        self.client = client

    def factory(self) -> Callable[[int], Any]:
        """What ``Runner(executor_factory=...)`` calls with the run's ``max_parallel``."""
        from workflow_cli.engine.executors.dask import DaskExecutor

        choice = self.choice
        return lambda n: DaskExecutor(self.client, n, resources=choice.resources, workspace=choice.workspace, close_client=False)

    def flags(self) -> list[str]:
        """The command-line options a background runner needs to use the same executor."""
        return ["--executor", "dask", "--scheduler-address", str(self.choice.scheduler_address)]

    def close(self) -> None:
        """Disconnect from the scheduler."""
        self.client.close()


def open_executor(home: Home, executor: str | None = None, scheduler_address: str | None = None) -> ExecutorSession | None:
    """Connect to the chosen executor's back end (None: the local executor needs none); exit 5 when unreachable."""
    choice = choose_executor(home, executor, scheduler_address)
    if choice.kind == "local":
        return None
    import importlib.util

    if importlib.util.find_spec("distributed") is None:
        raise InvalidInputError.at("--executor", "the dask executor needs the distributed package", "pip install 'workflow-cli[dask]'")
    from workflow_cli.engine.executors.dask import connect

    try:
        client = connect(str(choice.scheduler_address), timeout=choice.connect_timeout)
    except OSError as exc:
        raise ConflictError(f"cannot reach the Dask scheduler at {choice.scheduler_address} "
                            f"(tried for {choice.connect_timeout:g} s); is it running?") from exc
    return ExecutorSession(choice, client)
