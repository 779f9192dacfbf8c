"""Event subscribers for run-like commands: progress lines for people, JSON lines for ``--events``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO, Any, Callable

Sink = Callable[[dict[str, Any]], None]

_SYMBOLS = {
    "task.started": "▶",
    "task.completed": "✔",
    "task.failed": "✖",
    "task.retrying": "↻",
    "task.skipped": "·",
    "task.cancelled": "⊘",
    "task.waiting": "…",
}


# foreach items that fail or retry, loop iterations and pool waits (item completions would flood a big foreach)
_FLOW_LINES: dict[str, Callable[[dict[str, Any]], str]] = {
    "item.failed": lambda d: f"✖ {d.get('task')}[{d.get('index')}]: {d.get('error')}",
    "item.retrying": lambda d: f"↻ {d.get('task')}[{d.get('index')}]: {d.get('error')}",
    "loop.iteration": lambda d: f"↻ {d.get('task')}: iteration {d.get('iteration')} done, until is false",
    "task.pool_wait": lambda d: f"… {d.get('task')}: waiting for a slot of pool '{d.get('pool')}'",
}


def progress_line(event: dict[str, Any]) -> str | None:
    """One human line for the events worth showing."""
    etype, data = event["type"], event.get("data") or {}
    if etype in _SYMBOLS:
        tid = data.get("task", "")
        extra = ""
        if etype == "task.started":
            extra = f" (attempt {data.get('attempt')})" if data.get("attempt", 1) > 1 else ""
        elif etype in ("task.failed", "task.retrying", "task.skipped", "task.cancelled"):
            extra = f": {data.get('error')}" if data.get("error") else ""
            if etype == "task.retrying" and data.get("delay_seconds") is not None:
                extra += f" (retry in {data['delay_seconds']}s)"
        elif etype == "task.completed" and data.get("cached"):
            extra = " (cached)"
        elif etype == "task.waiting":
            waiting = data.get("waiting") or {}
            extra = f": waiting for {waiting.get('kind', 'input')}"
        if "cpu_seconds" in data:  # the attempt's process tree (SPEC 9)
            from workflow_cli.monitor.usage import usage_text

            extra += f" [{usage_text(data)}]"
        return f"{_SYMBOLS[etype]} {tid}{extra}"
    if etype in _FLOW_LINES:
        return _FLOW_LINES[etype](data)
    if etype.startswith("workflow.") and etype != "workflow.created":
        suffix = f": {data.get('error') or data.get('reason')}" if (data.get("error") or data.get("reason")) else ""
        return f"{etype.split('.', 1)[1]}{suffix}"
    return None


def open_events_file(target: str) -> IO[str]:
    """``--events FILE`` opened for appending: a regular file only (never through a symlink, never a FIFO
    or device, which could block or be replaced); a missing folder is an input error (exit 2)."""
    import os
    import stat

    from workflow_cli.errors import InvalidInputError
    from workflow_cli.store.atomic import check_output_path

    path = check_output_path(Path(target), "--events")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise InvalidInputError.at("--events", f"cannot write {path}: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InvalidInputError.at("--events", f"{path} is not a regular file; refusing to write there")
    os.set_blocking(fd, True)
    return open(fd, "a", encoding="utf-8")  # noqa: SIM115 - closed by the caller


def make_sink(*, events_target: str | None, human: bool) -> tuple[Sink | None, list[IO[str]]]:
    """A subscriber writing ``--events`` JSON lines and/or progress lines on stderr."""
    outputs: list[IO[str]] = []
    stream: IO[str] | None = None
    if events_target == "-":
        stream = sys.stdout
    elif events_target:
        stream = open_events_file(events_target)
        outputs.append(stream)
    if stream is None and not human:
        return None, outputs

    broken: set[str] = set()

    def sink(event: dict[str, Any]) -> None:
        # A reader that goes away (`run --events - | head`) must not kill the run: that stream just stops.
        if stream is not None and "events" not in broken:
            try:
                stream.write(json.dumps(event, ensure_ascii=False, default=str) + "\n")
                stream.flush()
            except (BrokenPipeError, ValueError, OSError):
                broken.add("events")
        if human and "progress" not in broken:
            line = progress_line(event)
            if line:
                try:
                    sys.stderr.write(line + "\n")
                except (BrokenPipeError, ValueError, OSError):
                    broken.add("progress")

    return sink, outputs
