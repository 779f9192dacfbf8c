"""The live view of ``monitor``: one rich frame (header, progress bar, task table with spinners) per refresh."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflow_cli.monitor.live import Frame, task_detail
from workflow_cli.monitor.summary import task_counts
from workflow_cli.store.state import progress

COUNT_ORDER = ("completed", "running", "waiting", "pending", "failed", "skipped", "cancelled")

# colours of the live view (the model keeps none)
STYLES = {"completed": "green", "running": "cyan", "running (no runner)": "bold red", "waiting": "yellow",
          "paused": "magenta", "failed": "red", "cancelled": "bright_black", "skipped": "bright_black"}


def _elapsed(task: Mapping[str, Any], now: float) -> float | None:
    if task["status"] not in ("running", "waiting") or not task.get("started_at"):
        return task.get("duration_seconds")
    from workflow_cli.clock import parse_iso

    return max(now - parse_iso(task["started_at"]), 0.0)


def _rows(state: Mapping[str, Any], limit: int) -> tuple[list[str], int]:
    """Task ids to show (running, waiting and failed first, then the latest finished, then pending)."""
    tasks = state["tasks"]
    hot = [t for t, ts in tasks.items() if ts["status"] in ("running", "waiting", "failed")]
    done = sorted((t for t, ts in tasks.items() if ts["status"] in ("completed", "skipped", "cancelled")),
                  key=lambda t: tasks[t].get("finished_at") or "")
    pending = [t for t, ts in tasks.items() if ts["status"] == "pending"]
    room = max(limit - len(hot), 0)
    n_done = min(len(done), room - min(len(pending), room // 2))
    n_pending = min(len(pending), room - n_done)
    chosen = set(hot[:limit]) | set(done[len(done) - n_done:]) | set(pending[:n_pending])
    return [t for t in tasks if t in chosen], len(tasks) - len(chosen)


class LiveView:
    """The rich renderable of one frame: header, progress bar, task table with spinners."""

    def __init__(self, interval: float, max_rows: int = 20) -> None:
        self.interval = interval
        self.max_rows = max_rows
        self._spinners: dict[str, Any] = {}

    def _spinner(self, tid: str) -> Any:
        from rich.spinner import Spinner

        if tid not in self._spinners:
            self._spinners[tid] = Spinner("dots", style="cyan")
        return self._spinners[tid]

    def render(self, frame: Frame) -> Any:
        """The renderable for ``frame``."""
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        state, now = frame.state, frame.now
        status = state["status"] if frame.runner_alive or state["status"] != "running" else "running (no runner)"
        header = Text.assemble((f"{state.get('name') or ''}  ", "bold"), f"{state['id']}  ",
                               (status, STYLES.get(status, "white")))
        if state.get("started_at"):
            from workflow_cli.clock import parse_iso

            end = parse_iso(state["finished_at"]) if state.get("finished_at") else now
            header.append(f"  {max(end - parse_iso(state['started_at']), 0.0):.1f}s", style="dim")
        pct = progress(state)
        counts = task_counts(state)
        bar = Table.grid(padding=(0, 1))
        bar.add_row(ProgressBar(total=100, completed=pct, width=40), f"{pct:.0f}%",
                    ", ".join(f"{counts[s]} {s}" for s in COUNT_ORDER if counts.get(s)))
        table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0))
        for col in ("", "task", "status", "attempts", "duration", "detail"):
            table.add_column(col, no_wrap=col != "detail", overflow="ellipsis")
        shown, hidden = _rows(state, self.max_rows)
        for tid in shown:
            ts = state["tasks"][tid]
            mark: Any = self._spinner(tid) if ts["status"] == "running" else ""
            elapsed = _elapsed(ts, now)
            table.add_row(mark, tid, Text(ts["status"], style=STYLES.get(ts["status"], "white")),
                          str(ts["attempts"] or ""), "" if elapsed is None else f"{elapsed:.1f}s", task_detail(ts) or "")
        footer = Text(f"… {hidden} more task(s)\n" if hidden else "", style="dim")
        footer.append(f"refreshing every {self.interval:g}s from disk · Ctrl-C stops watching (the run goes on)", style="dim")
        return Group(header, bar, table, footer)
