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
        return f"{_SYMBOLS[etype]} {tid}{extra}"
    if etype in _FLOW_LINES:
        return _FLOW_LINES[etype](data)
    if etype.startswith("workflow.") and etype != "workflow.created":
        suffix = f": {data.get('error') or data.get('reason')}" if (data.get("error") or data.get("reason")) else ""
        return f"{etype.split('.', 1)[1]}{suffix}"
    return None


def make_sink(*, events_target: str | None, human: bool) -> tuple[Sink | None, list[IO[str]]]:
    """A subscriber writing ``--events`` JSON lines and/or progress lines on stderr."""
    outputs: list[IO[str]] = []
    stream: IO[str] | None = None
    if events_target == "-":
        stream = sys.stdout
    elif events_target:
        from workflow_cli.store.output_target import open_output_append

        stream = open_output_append(Path(events_target), "--events")  # closed by the caller
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
