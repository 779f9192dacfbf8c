"""``report ID --output FILE.html``: one self-contained HTML page about an instance.

Inline CSS and inline SVG only: no script, no font, no image or style from the network (a
Content-Security-Policy meta tag forbids them too), so the file can be mailed or archived as CI
output. The page is the jinja2 template ``report_templates/report.html.j2`` (package data) with
autoescaping on: every text from the instance is escaped there; only the SVG drawings, which escape
their own text, arrive as markup. The page shows what the state holds: parameters there are already
masked, and the secrets file is never read.
"""

from __future__ import annotations

import functools
import json
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workflow_cli.engine.clock import parse_iso
from workflow_cli.errors import InvalidInputError
from workflow_cli.monitor.report_svg import STATE_COLORS, color, dag_svg, gantt_svg
from workflow_cli.store.home import Home
from workflow_cli.store.instances import InstancePaths, load_state, read_document
from workflow_cli.store.state import progress

LOG_TAIL = 20
_TEMPLATES = Path(__file__).with_name("report_templates")


def _time(iso: str | None) -> str:
    return iso.replace("T", " ").rstrip("Z")[:19] + " UTC" if iso else "–"


def duration_text(seconds: float | None) -> str:
    """``42.0 ms``, ``12.3 s``, ``4m05s``, ``2h10m``; a dash when unknown."""
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


def _run_seconds(state: Mapping[str, Any], now: float) -> float | None:
    if not state.get("started_at"):
        return None
    end = parse_iso(state["finished_at"]) if state.get("finished_at") else now
    return max(0.0, end - parse_iso(state["started_at"]))


def _short(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _names(document: Mapping[str, Any]) -> dict[str, str]:
    """Each task's ``name`` from the instance's document ("" when it has none)."""
    tasks = document.get("tasks") or {}
    return {tid: str(spec.get("name") or "") for tid, spec in tasks.items() if isinstance(spec, Mapping)}


def _task_rows(state: Mapping[str, Any], names: Mapping[str, str]) -> list[dict[str, Any]]:
    return [{"id": tid, "name": names.get(tid, ""), "status": str(t["status"]), "attempts": int(t.get("attempts") or 0),
             "started_at": t.get("started_at"), "duration": duration_text(t.get("duration_seconds")),
             "error": _short(t.get("error") or "", 500)} for tid, t in state["tasks"].items()]


def _error_blocks(state: Mapping[str, Any], logs: Mapping[str, list[str]], names: Mapping[str, str]) -> list[dict[str, Any]]:
    blocks = []
    for tid, t in state["tasks"].items():
        failed = [h for h in t.get("history") or [] if h.get("status") == "failed"]
        if t["status"] != "failed" and not failed:
            continue
        facts = [f"status {t['status']}"]
        if t.get("error_kind"):
            facts.append(f"kind {t['error_kind']}")
        if t.get("exit_code") is not None:
            facts.append(f"exit code {t['exit_code']}")
        attempts = [{"attempt": h.get("attempt"), "error": h.get("error") or "failed"} for h in failed]
        blocks.append({"id": tid, "name": names.get(tid, ""), "facts": facts, "attempts": attempts, "log": logs.get(tid) or []})
    return blocks


@functools.lru_cache(maxsize=1)
def _environment() -> Any:
    """The jinja2 environment of the report templates (package data), autoescaping on."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    return Environment(loader=FileSystemLoader(str(_TEMPLATES)), autoescape=True, undefined=StrictUndefined,
                       trim_blocks=False, lstrip_blocks=False)


def render_html(state: Mapping[str, Any], document: Mapping[str, Any], *, now: float,
                logs: Mapping[str, list[str]] | None = None, generated_by: str = "workflow-cli") -> str:
    """The whole report page for one instance's state (pure: only the page templates are read)."""
    from markupsafe import Markup

    doc_tasks = document.get("tasks") or {}
    deps = {tid: list((doc_tasks.get(tid) or {}).get("dependencies") or []) for tid in state["tasks"]}
    names = _names(document)
    counts: dict[str, int] = {}
    for task in state["tasks"].values():
        counts[task["status"]] = counts.get(task["status"], 0) + 1
    pct = progress(state)
    gantt = gantt_svg(state["tasks"], now=now)
    page = _environment().get_template("report.html.j2").render(
        state=state, title=f"{state.get('name') or state['id']} · {state['id']}", heading=str(state.get("name") or state["id"]),
        css=Markup((_TEMPLATES / "report.css").read_text(encoding="utf-8")), colors=color, when=_time, pct=pct,
        pct_text=f"{pct:g}", counts=" · ".join(f"{n} {s}" for s, n in sorted(counts.items())),
        duration=duration_text(_run_seconds(state, now)),
        params=[(str(k), _short(v)) for k, v in (state.get("params") or {}).items()],
        dag=Markup(dag_svg(state["tasks"], deps)), gantt=Markup(gantt) if gantt else "",
        legend=[(s, fill) for s, (fill, _) in STATE_COLORS.items()],
        tasks=_task_rows(state, names), errors=_error_blocks(state, logs or {}, names), generated_by=generated_by)
    return page if page.endswith("\n") else page + "\n"


def _log_tails(paths: InstancePaths, state: Mapping[str, Any]) -> dict[str, list[str]]:
    """The last LOG_TAIL lines of the log of each task that failed an attempt (logs are stored masked)."""
    tails = {}
    for tid, t in state["tasks"].items():
        if any(h.get("status") == "failed" for h in t.get("history") or []) and paths.task_log(tid).is_file():
            with open(paths.task_log(tid), encoding="utf-8", errors="replace") as fh:
                tails[tid] = [line.rstrip("\n") for line in deque(fh, maxlen=LOG_TAIL)]
    return tails


def write_report(home: Home, instance: str, output: Path) -> Path:
    """Render the report of an instance (id or unique prefix) to ``output``; return its absolute path.

    Raises:
        NotFoundError: no instance matches.
        InvalidInputError: ``output`` cannot be written.
    """
    from workflow_cli import __version__
    from workflow_cli.engine.clock import SystemClock, utc_iso
    from workflow_cli.store.atomic import write_bytes_atomic
    from workflow_cli.store.ids import resolve_instance_id

    paths = InstancePaths(home.instances / resolve_instance_id(home.instances, instance))
    state = load_state(paths)
    now = SystemClock().time()
    page = render_html(state, read_document(paths), now=now, logs=_log_tails(paths, state),
                       generated_by=f"workflow-cli {__version__} at {utc_iso(now)}")
    from workflow_cli.store.output_target import check_output_target

    target = check_output_target(Path(output), "--output")
    try:
        write_bytes_atomic(target, page.encode("utf-8"), mode=0o644)
    except OSError as exc:
        raise InvalidInputError.at("--output", f"cannot write {target}: {exc.strerror or exc}",
                                   "choose a writable folder") from exc
    return target
