"""``stop``, ``cancel``, ``rollback``, ``checkpoints``: act on an instance that is not moving, or ask its runner."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from workflow_cli.cli.failure import guarded


def register(app: typer.Typer) -> None:
    @app.command("stop")
    @guarded
    def stop(
        ctx: typer.Context,
        instance: str = typer.Argument(..., metavar="ID", help="Instance id or unique prefix."),
        force: bool = typer.Option(False, "--force", help="Terminate running tasks (they run again on resume)."),
    ) -> None:
        """Pause an instance: no new tasks start; running ones finish.

        Example: workflow-cli stop 20261121-2151 --force
        """
        from workflow_cli.ops.control import stop as op

        obj = ctx.obj
        result = op(obj.writable_home(), instance, force=force)
        obj.emit_json(result) if obj.json else obj.out(
            f"stop requested from the runner of {result['id']}" if result["handed_to_runner"] else f"{result['id']} paused")

    @app.command("cancel")
    @guarded
    def cancel(ctx: typer.Context, instance: str = typer.Argument(..., metavar="ID", help="Instance id or unique prefix.")) -> None:
        """Cancel an instance: running tasks are terminated; the instance ends cancelled (final).

        Example: workflow-cli cancel 20261121-2151
        """
        from workflow_cli.ops.control import cancel as op

        obj = ctx.obj
        result = op(obj.writable_home(), instance)
        obj.emit_json(result) if obj.json else obj.out(
            f"cancel requested from the runner of {result['id']}" if result["handed_to_runner"] else f"{result['id']} cancelled")

    @app.command("rollback")
    @guarded
    def rollback(
        ctx: typer.Context,
        instance: str = typer.Argument(..., metavar="ID", help="Instance id or unique prefix."),
        checkpoint: Optional[str] = typer.Option(None, "--checkpoint", help="Roll back to this checkpoint (default: the latest; 'start' undoes every task)."),
        resume: bool = typer.Option(False, "--resume", help="Continue the run at once after the rollback."),
    ) -> None:
        """Undo the tasks completed after a checkpoint (their compensate actions run, newest first).

        Example: workflow-cli rollback 20261121-2151 --checkpoint cp-0002 --resume
        """
        from workflow_cli.ops.control import rollback as op

        obj = ctx.obj
        result = op(obj.writable_home(), instance, checkpoint=checkpoint)
        from workflow_cli.cli.run_flow import drive
        from workflow_cli.ops.run import resume as resume_op

        if not result["changed"]:  # nothing happened after the checkpoint: nothing was written
            if resume and result["status"] in ("created", "running", "waiting", "paused"):
                obj.info(result["message"] + "; resuming")
                drive(obj, None, resume_op, result["id"])
            obj.emit_json(result) if obj.json else obj.out(result["message"])
            return
        if resume:
            obj.info(f"rolled back {len(result['compensated'])} task(s) to {result['checkpoint'] or 'the start'}; resuming")
            drive(obj, None, resume_op, result["id"])
        if obj.json:
            obj.emit_json(result)
        else:
            for entry in result["compensated"]:
                obj.out(f"undone {entry['task']}" + ("" if entry["ok"] else f" (compensation failed: {entry['error']})"))
            obj.out(f"{result['id']} rolled back to {result['checkpoint'] or 'the start'}; now {result['status']}")

    @app.command("checkpoints")
    @guarded
    def checkpoints(ctx: typer.Context, instance: str = typer.Argument(..., metavar="ID", help="Instance id or unique prefix."),
                    rebuild_index: bool = typer.Option(False, "--rebuild-index",
                                                       help="Rewrite a damaged checkpoint index from the event log.")) -> None:
        """List the checkpoints of an instance.

        Example: workflow-cli checkpoints 20261121-2151 --json
        """
        from workflow_cli.ops.control import list_checkpoints, rebuild_checkpoint_index

        obj = ctx.obj
        if rebuild_index:
            done = rebuild_checkpoint_index(obj.writable_home(), instance)
            obj.info(f"rebuilt {done['index']} from the event log: {done['checkpoints']} checkpoint(s)")
        rows = list_checkpoints(obj.readable_home(), instance)
        if obj.json:
            obj.emit_json(rows)
            return
        for row in rows:
            sys.stdout.write(f"{row['id']}  {row['created_at']}  {row['task']}\n")
        if not rows:
            obj.info("no checkpoints")
