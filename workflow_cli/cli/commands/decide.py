"""``approve``, ``reject``, ``signal``, ``tick``: move waiting instances on."""

from __future__ import annotations

from typing import Any, Optional

import typer

from workflow_cli.cli import bodies
from workflow_cli.cli.failure import guarded

NO_CONTINUE_HELP = "Record the decision but do not continue the run here when no runner is alive."


def _report(obj: Any, result: dict[str, Any]) -> None:
    if obj.json:
        obj.emit_json(result.get("status") or result)
    elif result["handed_to_runner"]:
        obj.out(f"{result['requested']} handed to the runner of {result['id']}")
    elif result.get("queued"):
        obj.out(f"{result['requested']} kept until {result['id']} ({result['instance_status']}) runs: {result['next']}")
    elif "status" in result:
        status = result["status"]
        obj.out(f"{result['id']} {status['status']}" + (f": {status['error']}" if status.get("error") else ""))
    raise typer.Exit(result.get("exit_code", 0))


def _interruptible(fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Call ``fn`` (which may continue the run here) with SIGINT/SIGTERM stopping the run as in ``resume``."""
    import sys

    from workflow_cli.ops.interrupt import handling_signals, interrupted_line

    with handling_signals() as interrupt:
        result: dict[str, Any] = fn(*args, **kwargs)
    if interrupt.signum is not None:
        sys.stderr.write(interrupted_line(interrupt, result.get("status") or {"id": result.get("id")}) + "\n")
        result["exit_code"] = interrupt.exit_code
    return result


def _sink(obj: Any) -> Any:
    from workflow_cli.cli.progress import make_sink

    return make_sink(events_target=None, human=not obj.quiet and not obj.json)[0]


def _decide(ctx: typer.Context, kind: str, instance: str, task: str, by: Optional[str], comment: Optional[str],
            data: Optional[str], no_continue: bool) -> None:
    from workflow_cli.ops.create import current_user
    from workflow_cli.ops.decide import decide

    obj = ctx.obj
    result = _interruptible(decide, obj.writable_home(), instance, task, kind, by=by or current_user(), comment=comment,
                            data=data, continue_run=not no_continue, sink=_sink(obj))
    _report(obj, result)


def register(app: typer.Typer) -> None:
    @app.command("approve")
    @guarded
    def approve(
        ctx: typer.Context,
        instance: str = typer.Argument(..., metavar="ID", help="Instance id or unique prefix."),
        task: str = typer.Argument(..., metavar="TASK", help="The approval_gate task."),
        by: Optional[str] = typer.Option(None, "--by", help="Who approves (default: the OS user)."),
        comment: Optional[str] = typer.Option(None, "--comment", help="A comment kept with the decision."),
        data: Optional[str] = typer.Option(None, "--data", help="JSON checked against the gate's input_schema; becomes the task's outputs.", metavar="JSON"),
        no_continue: bool = typer.Option(False, "--no-continue", help=NO_CONTINUE_HELP),
    ) -> None:
        """Approve a waiting approval gate; with no live runner the run continues here.

        Example: workflow-cli approve 20261121-2151 level1_approval --by ann --comment "ok"
        """
        _decide(ctx, "approve", instance, task, by, comment, data, no_continue)

    @app.command("reject")
    @guarded
    def reject(
        ctx: typer.Context,
        instance: str = typer.Argument(..., metavar="ID", help="Instance id or unique prefix."),
        task: str = typer.Argument(..., metavar="TASK", help="The approval_gate task."),
        by: Optional[str] = typer.Option(None, "--by", help="Who rejects (default: the OS user)."),
        comment: Optional[str] = typer.Option(None, "--comment", help="Why."),
        no_continue: bool = typer.Option(False, "--no-continue", help=NO_CONTINUE_HELP),
    ) -> None:
        """Reject a waiting approval gate (the task fails with kind 'rejected').

        Example: workflow-cli reject 20261121-2151 level2_approval --by bob --comment "over budget"
        """
        _decide(ctx, "reject", instance, task, by, comment, None, no_continue)

    @app.command("signal")
    @guarded
    def signal(
        ctx: typer.Context,
        instance: str = typer.Argument(..., metavar="ID", help="Instance id or unique prefix."),
        name: str = typer.Argument(..., metavar="NAME", help="Signal name (a wait task's 'signal')."),
        data: Optional[str] = typer.Option(None, "--data", help="JSON payload (merged into vars).", metavar="JSON"),
        no_continue: bool = typer.Option(False, "--no-continue", help=NO_CONTINUE_HELP),
    ) -> None:
        """Deliver a signal to an instance; a wait task waiting for it completes.

        Example: workflow-cli signal 20261121-2151 data_ready --data '{"rows": 1200}'
        """
        from workflow_cli.ops.decide import send_signal

        obj = ctx.obj
        _report(obj, _interruptible(send_signal, obj.writable_home(), instance, name, data=data, continue_run=not no_continue,
                                    sink=_sink(obj)))

    @app.command("tick")
    @guarded
    def tick(ctx: typer.Context) -> None:
        """One pass over every instance: due timers, timeouts, mailbox replies, dead runners. For cron.

        Example (crontab): * * * * * workflow-cli --home ~/flows --quiet tick
        """
        bodies.tick(ctx.obj)
