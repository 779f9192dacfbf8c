"""``start``, ``run``, ``resume``, ``retry``: run an instance; the exit code says how it ended (SPEC 8)."""

from __future__ import annotations

import sys
from typing import Any, Callable, List, Optional

import typer

from workflow_cli.cli.failure import guarded

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


def _enqueue(obj: Any, instance: str) -> None:
    """``--queue``: queue the instance, start what fits now (in the background) and report."""
    from workflow_cli.ops.queue import detach_start, dispatch, enqueue
    from workflow_cli.ops.query import get_status

    home = obj.writable_home()
    doc = enqueue(home, instance)
    dispatch(home, detach_start)
    doc = get_status(home, doc["id"])
    if obj.json:
        obj.emit_json(doc)
    else:
        obj.info(f"{doc['id']} {doc['status']}" + (" (see workflow-cli queue)" if doc["status"] == "queued" else ""))
        sys.stdout.write(doc["id"] + "\n")
    raise typer.Exit(0)

def _finish(obj: Any, result: Any, *, events: Optional[str] = None, junit: Optional[str] = None) -> None:
    doc = result.status
    if junit and not result.detached:
        _write_junit(obj, doc["id"], junit)
    out = sys.stderr if events == "-" else sys.stdout  # stdout belongs to the event stream then
    if obj.json:
        obj.emit_json(doc)
    elif result.detached:
        obj.info(f"running in the background; log: {doc.get('runner_log')}")
        out.write(doc["id"] + "\n")
    elif not obj.quiet:
        counts: dict[str, int] = {}
        for t in doc["tasks"].values():
            counts[t["status"]] = counts.get(t["status"], 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        line = f"{doc['id']} {doc['status']} ({summary})"
        if doc.get("error"):
            line += f": {doc['error']}"
        out.write(line + "\n")
    raise typer.Exit(result.exit_code)


def _write_junit(obj: Any, instance_id: str, target: str) -> None:
    """``--junit FILE``: one test case per task, for CI systems."""
    from pathlib import Path

    from workflow_cli.errors import InvalidInputError
    from workflow_cli.monitor.junit import write_junit
    from workflow_cli.ops.query import instance_paths
    from workflow_cli.store.instances import load_state

    paths = instance_paths(obj.home, instance_id)
    try:
        write_junit(load_state(paths), Path(target), log_dir=paths.logs)
    except OSError as exc:
        raise InvalidInputError.at("--junit", f"cannot write {target}: {exc.strerror or exc}") from exc


def check_outputs(events: Optional[str], junit: Optional[str], *, json_out: bool = False) -> None:
    """Refuse ``--events``/``--junit`` targets that cannot be written before anything is created or run,
    and ``--events -`` with ``--json`` (stdout holds one JSON document then)."""
    from pathlib import Path

    from workflow_cli.errors import InvalidInputError
    from workflow_cli.store.atomic import check_output_path

    if json_out and events == "-":
        raise InvalidInputError.at("--events", "'-' (stdout) cannot be used with --json: stdout holds the status document",
                                   "give --events a file, or drop --json")

    if events and events != "-":
        check_output_path(Path(events), "--events")
    if junit:
        check_output_path(Path(junit), "--junit", parent_must_exist=False)


def _drive(obj: Any, events: Optional[str], fn: Callable[..., Any], *args: Any, junit: Optional[str] = None,
           replay: Optional[str] = None, grace: Optional[float] = None, **kwargs: Any) -> None:
    """Run ``fn`` with progress lines and the ``--events`` stream; ``replay``: stream that instance's first events too.

    SIGINT/SIGTERM meanwhile stop the run as ``stop --force`` would (``grace``: seconds before SIGKILL);
    the command then says so on one stderr line and exits 130/143 (SPEC 6.6).
    """
    from workflow_cli.cli.progress import make_sink
    from workflow_cli.ops.interrupt import handling_signals, interrupted_line

    check_outputs(events, junit, json_out=obj.json)
    sink, files = make_sink(events_target=events, human=not obj.quiet and not obj.json)
    try:
        if replay and sink is not None and events:
            from workflow_cli.ops.query import instance_paths
            from workflow_cli.store.events import read_events

            for event in read_events(instance_paths(obj.home, replay).events):
                sink(event)
        with handling_signals(grace) as interrupt:
            result = fn(obj.writable_home(), *args, sink=sink, **kwargs)
    finally:
        for f in files:
            f.close()
    if interrupt.signum is not None:
        sys.stderr.write(interrupted_line(interrupt, result.status) + "\n")
        result.exit_code = interrupt.exit_code
    _finish(obj, result, events=events, junit=junit)


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
            _enqueue(obj, instance)
        if detach:
            _finish(obj, op(obj.writable_home(), instance, detach_run=True, no_cache=no_cache, max_parallel=max_parallel,
                            wait_threshold=wait_threshold, executor=executor, scheduler_address=scheduler_address, grace=grace), events=events)
        _drive(obj, events, op, instance, max_parallel=max_parallel, no_cache=no_cache, junit=junit,
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
        from workflow_cli.ops.notes import source_notes

        obj = ctx.obj
        if dry_run:
            from workflow_cli.ops.plan import dry_run as plan

            with source_notes(lambda note: obj.info(f"note: {note}")):
                doc = plan(obj.readable_home(), source, cli_pairs=param, params_file=params_file)
            if obj.json:
                obj.emit_json(doc)
            else:
                from workflow_cli.cli.render_plan import render_plan

                render_plan(obj.console(), doc)
            return
        from workflow_cli.ops.create import create_instance
        from workflow_cli.ops.executors import open_executor
        from workflow_cli.ops.run import start as op

        check_outputs(events, junit, json_out=obj.json)
        # unreachable scheduler: exit 5 with nothing created (a queued run is started later by serve or tick)
        session = None if queue else open_executor(obj.writable_home(), executor, scheduler_address)
        try:
            with source_notes(lambda note: obj.info(f"note: {note}")):
                created = create_instance(obj.writable_home(), source, cli_pairs=param, params_file=params_file, name=name,
                                          workdir=workdir)
            sys.stderr.write(f"instance {created.id} (home {obj.home.root})\n")
            sys.stderr.flush()
            if queue:
                _enqueue(obj, created.id)
            chosen: dict[str, Any] = {"executor": executor, "session": session, "grace": grace}
            if detach:
                _finish(obj, op(obj.home, created.id, detach_run=True, no_cache=no_cache, max_parallel=max_parallel,
                                wait_threshold=wait_threshold, **chosen), events=events)
            _drive(obj, events, op, created.id, max_parallel=max_parallel, no_cache=no_cache, junit=junit,
                   wait_threshold=wait_threshold, replay=created.id, **chosen)
        finally:
            if session is not None:
                session.close()

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
            _finish(obj, op(obj.writable_home(), instance, detach_run=True, no_cache=no_cache, max_parallel=max_parallel,
                            wait_threshold=wait_threshold, executor=executor, scheduler_address=scheduler_address, grace=grace), events=events)
        _drive(obj, events, op, instance, max_parallel=max_parallel, no_cache=no_cache, junit=junit,
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
        _drive(obj, events, op, instance, tasks=task, downstream=downstream, max_parallel=max_parallel, junit=junit,
               wait_threshold=wait_threshold, executor=executor, scheduler_address=scheduler_address, grace=grace)
