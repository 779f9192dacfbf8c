"""The body of ``run`` and what ``start``, ``resume``, ``retry`` share, without typer.

The typer commands (``commands/running.py``) call these, and so does the quick path
(``cli/quick.py``), which runs ``workflow-cli run SOURCE --param K=V`` without building the click app.
Every way out is a ``SystemExit`` carrying the exit code.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Optional, Sequence


def enqueue_run(obj: Any, instance: str) -> None:
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
    raise SystemExit(0)


def finish(obj: Any, result: Any, *, events: Optional[str] = None, junit: Optional[str] = None) -> None:
    doc = result.status
    if junit and not result.detached:
        write_junit_report(obj, doc["id"], junit)
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
    raise SystemExit(result.exit_code)


def write_junit_report(obj: Any, instance_id: str, target: str) -> None:
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


def drive(obj: Any, events: Optional[str], fn: Callable[..., Any], *args: Any, junit: Optional[str] = None,
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
    finish(obj, result, events=events, junit=junit)


def run_command(obj: Any, source: str, *, param: Sequence[str] = (), params_file: Optional[str] = None,
                name: Optional[str] = None, workdir: Optional[str] = None, detach: bool = False, dry_run: bool = False,
                max_parallel: Optional[int] = None, events: Optional[str] = None, junit: Optional[str] = None,
                wait_threshold: Optional[float] = None, no_cache: bool = False, queue: bool = False,
                grace: Optional[float] = None, executor: Optional[str] = None, scheduler_address: Optional[str] = None) -> None:
    """``run``: create an instance of ``source`` and run it (create + start); exits with the run's code."""
    from workflow_cli.ops.notes import source_notes

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
            enqueue_run(obj, created.id)
        chosen: dict[str, Any] = {"executor": executor, "session": session, "grace": grace}
        if detach:
            finish(obj, op(obj.home, created.id, detach_run=True, no_cache=no_cache, max_parallel=max_parallel,
                            wait_threshold=wait_threshold, **chosen), events=events)
        drive(obj, events, op, created.id, max_parallel=max_parallel, no_cache=no_cache, junit=junit,
               wait_threshold=wait_threshold, replay=created.id, **chosen)
    finally:
        if session is not None:
            session.close()
