"""``start``, ``run``, ``resume``, ``retry``: run an instance; the exit code says how it ended (SPEC 8)."""

from __future__ import annotations

from typing import List, Optional

import typer

from workflow_cli.cli.failure import guarded
from workflow_cli.cli.run_flow import drive, enqueue_run, finish, run_command

JUNIT_HELP = "Write a JUnit XML report (one test case per task) to FILE when the run stops."
WAIT_HELP = "Wait in place for a timer due within this many seconds (default 60); a later one ends the run as waiting (exit 3)."
EVENTS_HELP = "Stream every event as a JSON line to FILE ('-' for stdout)."
DETACH_HELP = "Run in a background process and return at once."
NO_CACHE_HELP = "Do not reuse cached task results (successful results are still stored)."


# The options start, run, resume and retry share (typer reads these; one definition each).
ID_ARG = typer.Argument(..., metavar="ID", help="Instance id or unique prefix.")
DETACH_OPT = typer.Option(False, "--detach", help=DETACH_HELP)
MAX_PARALLEL_OPT = typer.Option(None, "--max-parallel", min=1, help="Cap on tasks running at once.")
EVENTS_OPT = typer.Option(None, "--events", help=EVENTS_HELP, metavar="FILE")
JUNIT_OPT = typer.Option(None, "--junit", help=JUNIT_HELP, metavar="FILE")
WAIT_OPT = typer.Option(None, "--wait-threshold", min=0, help=WAIT_HELP, metavar="S")
NO_CACHE_OPT = typer.Option(False, "--no-cache", help=NO_CACHE_HELP)
GRACE_OPT = typer.Option(None, "--grace", min=0, metavar="S",
                         help="On SIGINT/SIGTERM: seconds running tasks get between SIGTERM and SIGKILL (default 5).")
EXECUTOR_OPT = typer.Option(None, "--executor", help="Where task actions run: local or dask (default: config.yaml's executor, else local).",
                            metavar="KIND")
SCHEDULER_OPT = typer.Option(None, "--scheduler-address", help="The Dask scheduler, e.g. tcp://127.0.0.1:8786 (implies --executor dask).",
                             metavar="ADDRESS")
QUEUE_OPT = typer.Option(False, "--queue", help="Put the instance in the run queue (state queued); serve or tick starts it when a slot is free.")


def register(app: typer.Typer) -> None:
    @app.command("start")
    @guarded
    def start(
        ctx: typer.Context,
        instance: str = ID_ARG,
        detach: bool = DETACH_OPT,
        max_parallel: Optional[int] = MAX_PARALLEL_OPT,
        events: Optional[str] = EVENTS_OPT,
        junit: Optional[str] = JUNIT_OPT,
        wait_threshold: Optional[float] = WAIT_OPT,
        no_cache: bool = NO_CACHE_OPT,
        queue: bool = QUEUE_OPT,
        grace: Optional[float] = GRACE_OPT,
        executor: Optional[str] = EXECUTOR_OPT,
        scheduler_address: Optional[str] = SCHEDULER_OPT,
    ) -> None:
        """Run a created (or paused) instance in the foreground until it stops moving.

        Example: workflow-cli start 20261121-2151 --events run.jsonl
        """
        from workflow_cli.ops.run import start as op

        obj = ctx.obj
        obj.info(f"home {obj.home.root}")
        if queue:
            enqueue_run(obj, instance)
        if detach:
            finish(obj, op(obj.writable_home(), instance, detach_run=True, no_cache=no_cache, max_parallel=max_parallel,
                            wait_threshold=wait_threshold, executor=executor, scheduler_address=scheduler_address, grace=grace), events=events)
        drive(obj, events, op, instance, max_parallel=max_parallel, no_cache=no_cache, junit=junit,
               wait_threshold=wait_threshold, executor=executor, scheduler_address=scheduler_address, grace=grace)

    @app.command("run")
    @guarded
    def run(
        ctx: typer.Context,
        source: str = typer.Argument(..., metavar="TEMPLATE_OR_FILE", help="A template name or a document file."),
        param: List[str] = typer.Option([], "--param", "-p", help="A parameter value, key=value (repeatable).", metavar="KEY=VALUE"),
        params_file: Optional[str] = typer.Option(None, "--params-file", help="JSON or YAML file of parameter values.", metavar="FILE"),
        name: Optional[str] = typer.Option(None, "--name", help="A name for the instance."),
        workdir: Optional[str] = typer.Option(None, "--workdir", metavar="DIR",
                                              help="The instance's base directory: where command tasks run by default (default: here)."),
        detach: bool = DETACH_OPT,
        dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan (order, rendered parameters, conditions); run nothing."),
        max_parallel: Optional[int] = MAX_PARALLEL_OPT,
        events: Optional[str] = EVENTS_OPT,
        junit: Optional[str] = JUNIT_OPT,
        wait_threshold: Optional[float] = WAIT_OPT,
        no_cache: bool = NO_CACHE_OPT,
        queue: bool = QUEUE_OPT,
        grace: Optional[float] = GRACE_OPT,
        executor: Optional[str] = EXECUTOR_OPT,
        scheduler_address: Optional[str] = SCHEDULER_OPT,
    ) -> None:
        """Create an instance and run it (create + start).

        Example: workflow-cli run sequential_pipeline --param source=in.csv --param destination=out.json
        """
        run_command(ctx.obj, source, param=param, params_file=params_file, name=name, workdir=workdir, detach=detach,
                    dry_run=dry_run, max_parallel=max_parallel, events=events, junit=junit, wait_threshold=wait_threshold,
                    no_cache=no_cache, queue=queue, grace=grace, executor=executor, scheduler_address=scheduler_address)

    @app.command("resume")
    @guarded
    def resume(
        ctx: typer.Context,
        instance: str = ID_ARG,
        detach: bool = DETACH_OPT,
        max_parallel: Optional[int] = MAX_PARALLEL_OPT,
        events: Optional[str] = EVENTS_OPT,
        junit: Optional[str] = JUNIT_OPT,
        wait_threshold: Optional[float] = WAIT_OPT,
        no_cache: bool = NO_CACHE_OPT,
        grace: Optional[float] = GRACE_OPT,
        executor: Optional[str] = EXECUTOR_OPT,
        scheduler_address: Optional[str] = SCHEDULER_OPT,
    ) -> None:
        """Continue a paused, waiting or crashed instance (tasks cut off by a crash run again).

        Example: workflow-cli resume 20261121-2151
        """
        from workflow_cli.ops.run import resume as op

        obj = ctx.obj
        if detach:
            finish(obj, op(obj.writable_home(), instance, detach_run=True, no_cache=no_cache, max_parallel=max_parallel,
                            wait_threshold=wait_threshold, executor=executor, scheduler_address=scheduler_address, grace=grace), events=events)
        drive(obj, events, op, instance, max_parallel=max_parallel, no_cache=no_cache, junit=junit,
               wait_threshold=wait_threshold, executor=executor, scheduler_address=scheduler_address, grace=grace)

    @app.command("retry")
    @guarded
    def retry(
        ctx: typer.Context,
        instance: str = ID_ARG,
        task: List[str] = typer.Option([], "--task", "-t", help="Retry this task (repeatable; default: every failed task)."),
        downstream: bool = typer.Option(False, "--downstream", help="Also re-run every task after the retried ones."),
        max_parallel: Optional[int] = MAX_PARALLEL_OPT,
        events: Optional[str] = EVENTS_OPT,
        junit: Optional[str] = JUNIT_OPT,
        wait_threshold: Optional[float] = WAIT_OPT,
        grace: Optional[float] = GRACE_OPT,
        executor: Optional[str] = EXECUTOR_OPT,
        scheduler_address: Optional[str] = SCHEDULER_OPT,
    ) -> None:
        """Reset failed (or named) tasks to pending and continue; finished tasks keep their outputs.

        Example: workflow-cli retry 20261121-2151 --task load --downstream
        """
        from workflow_cli.ops.run import retry as op

        obj = ctx.obj
        drive(obj, events, op, instance, tasks=task, downstream=downstream, max_parallel=max_parallel, junit=junit,
               wait_threshold=wait_threshold, executor=executor, scheduler_address=scheduler_address, grace=grace)
