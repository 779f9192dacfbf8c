"""The Python API (SPEC 10): an async facade over the same operations the CLI uses.

Example::

    import asyncio
    from workflow_cli import WorkflowOrchestrator

    async def main() -> None:
        orch = WorkflowOrchestrator(home="~/flows")
        wid = await orch.create_workflow("sequential_pipeline", params={"source": "in.csv", "destination": "out.json"})
        status = await orch.start_workflow(wid)          # runs until the instance stops moving
        print(status["status"], orch.get_workflow_status(wid)["progress"])

    asyncio.run(main())

Blocking work (running a workflow) happens in a worker thread, so the event loop stays free.
Errors are the same :mod:`workflow_cli.errors` exceptions the CLI turns into exit codes.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from collections.abc import Mapping
from typing import Any

from workflow_cli.store.home import Home, resolve_home


class WorkflowOrchestrator:
    """Create, run, inspect and cancel workflow instances of one home folder."""

    def __init__(self, home: str | Path | None = None) -> None:
        self.home = Home(resolve_home(str(Path(home).expanduser()) if home is not None else None))

    async def create_workflow(self, definition_or_template: str | Mapping[str, Any], params: Mapping[str, Any] | None = None,
                              *, name: str | None = None) -> str:
        """Create an instance from a template name, a document file or a document mapping; returns its id."""
        from workflow_cli.ops.create import create_instance

        self.home.ensure()
        if isinstance(definition_or_template, Mapping):
            result = await asyncio.to_thread(create_instance, self.home, str(definition_or_template.get("name", "inline")),
                                             overrides=params, name=name, document=definition_or_template)
        else:
            result = await asyncio.to_thread(create_instance, self.home, str(definition_or_template), overrides=params, name=name)
        return result.id

    async def start_workflow(self, workflow_id: str, *, max_parallel: int | None = None) -> dict[str, Any]:
        """Run a created or paused instance until it is terminal, waiting or paused; returns its status."""
        from workflow_cli.ops.run import start

        result = await asyncio.to_thread(start, self.home, workflow_id, max_parallel=max_parallel)
        return result.status

    async def resume_workflow(self, workflow_id: str) -> dict[str, Any]:
        """Continue a paused, waiting or crashed instance; returns its status."""
        from workflow_cli.ops.run import resume

        result = await asyncio.to_thread(resume, self.home, workflow_id)
        return result.status

    def get_workflow_status(self, workflow_id: str) -> dict[str, Any]:
        """The status document (the ``status --json`` shape)."""
        from workflow_cli.ops.query import get_status

        return get_status(self.home, workflow_id)

    def list_workflows(self, **filters: Any) -> list[dict[str, Any]]:
        """Instances, newest first (filters: status, template, limit, sort)."""
        from workflow_cli.ops.query import list_instances

        return list_instances(self.home, **filters)

    async def cancel_workflow(self, workflow_id: str) -> dict[str, Any]:
        """Cancel an instance (through its live runner when there is one)."""
        from workflow_cli.ops.control import cancel

        return await asyncio.to_thread(cancel, self.home, workflow_id)

    def _result_path(self, workflow_id: str) -> Path:
        from workflow_cli.ops.query import instance_paths

        resolved = instance_paths(self.home, workflow_id).id
        return self.home.cache / "results" / f"{resolved}.json"

    def cache_workflow_result(self, workflow_id: str, result: Any) -> None:
        """Keep a JSON-serialisable result for an instance under ``<home>/cache/results/`` (``cache list`` shows it)."""
        from workflow_cli.store.atomic import write_json_atomic

        path = self._result_path(workflow_id)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        from workflow_cli.clock import SystemClock

        write_json_atomic(path, {"id": path.stem, "created_at": SystemClock().now_iso(), "result": result})

    def get_cached_result(self, workflow_id: str) -> Any:
        """The result stored by :meth:`cache_workflow_result`; None when nothing is (an unknown id included)."""
        from workflow_cli.errors import NotFoundError

        try:
            path = self._result_path(workflow_id)
            return json.loads(path.read_text(encoding="utf-8"))["result"]
        except (NotFoundError, FileNotFoundError):
            return None
