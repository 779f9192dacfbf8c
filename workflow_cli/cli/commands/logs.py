"""``logs ID [TASK]``: task logs with attempt headers; ``--follow`` until the instance stops moving."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from workflow_cli.cli.failure import guarded


def register(app: typer.Typer) -> None:
    @app.command("logs")
    @guarded
    def logs(
        ctx: typer.Context,
        instance: str = typer.Argument(..., metavar="ID", help="Instance id or unique prefix."),
        task: Optional[str] = typer.Argument(None, metavar="[TASK]", help="Only this task's log."),
        follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines until the instance stops moving."),
        tail: Optional[int] = typer.Option(None, "--tail", "-n", min=0, help="Only the last N lines of each log."),
    ) -> None:
        """Print task logs (each attempt starts with a '=== task attempt N ===' header).

        Example: workflow-cli logs 20261121-2151 extract --tail 20
        """
        from workflow_cli.ops.logs import follow as follow_logs
        from workflow_cli.ops.logs import log_files, read_lines

        obj = ctx.obj
        paths, files = log_files(obj.readable_home(), instance, task)
        if obj.json:
            obj.emit_json({tid: read_lines(path, tail) for tid, path in files})
            return
        for tid, path in files:
            if task is None:
                sys.stdout.write(f"----- {tid} -----\n")
            for line in read_lines(path, tail):
                sys.stdout.write(line + "\n")
        if not files:
            obj.info("no logs yet")
        if follow:
            for line in follow_logs(paths, files):
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
