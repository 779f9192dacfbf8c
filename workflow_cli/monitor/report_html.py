"""``report ID --output FILE.html``: one self-contained HTML page about an instance.

Inline CSS and inline SVG only: no script, no font, no image or style from the network (a
Content-Security-Policy meta tag forbids them too), so the file can be mailed or archived as CI
output. Every text from the instance goes through :func:`html.escape`. The page shows what the
state holds: parameters there are already masked, and the secrets file is never read.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

from workflow_cli.clock import parse_iso
from workflow_cli.errors import InvalidInputError
from workflow_cli.monitor.report_svg import STATE_COLORS, color, dag_svg, gantt_svg
from workflow_cli.store.home import Home
from workflow_cli.store.instances import InstancePaths, load_state, read_document
from workflow_cli.store.state import progress

LOG_TAIL = 20
_CSS = """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: #202124; background: #f1f3f4; margin: 0; padding: 24px; }
main { max-width: 1360px; margin: 0 auto; }
section { background: #fff; border: 1px solid #dadce0; border-radius: 8px; padding: 16px 20px; margin: 0 0 18px; }
h1 { font-size: 22px; margin: 0 0 12px; } h2 { font-size: 17px; margin: 0 0 12px; } h3 { font-size: 15px; margin: 14px 0 6px; }
dl.meta { display: grid; grid-template-columns: max-content 1fr max-content 1fr; gap: 4px 14px; margin: 0; }
dl.meta dt { color: #5f6368; } dl.meta dd { margin: 0; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; border: 1px solid #3c4043; font-size: 12px; }
.progress { display: inline-block; width: 220px; height: 10px; background: #e8eaed; border-radius: 5px; vertical-align: middle; }
.progress span { display: block; height: 100%; background: #1e8e3e; border-radius: 5px; }
.scroll { overflow-x: auto; } svg.fit { max-width: 100%; height: auto; }
svg text { font-family: inherit; } svg .label { font-size: 13px; font-weight: 600; } svg .sub { font-size: 11px; }
svg .row { font-size: 12px; fill: #202124; } svg .tick { font-size: 11px; fill: #5f6368; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #e8eaed; vertical-align: top; }
th { color: #5f6368; font-weight: 600; } table.params { width: auto; min-width: 40%; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.error { color: #a50e0e; white-space: pre-wrap; word-break: break-word; }
pre { background: #202124; color: #e8eaed; padding: 10px 12px; border-radius: 6px; overflow-x: auto; font-size: 12px; }
.legend span { margin-right: 14px; font-size: 12px; } .legend i { display: inline-block; width: 12px; height: 12px;
  border: 1px solid #3c4043; border-radius: 3px; vertical-align: -2px; margin-right: 4px; }
footer { color: #5f6368; font-size: 12px; text-align: center; }
"""


def _badge(status: str) -> str:
    fill, ink = color(status)
    return f'<span class="badge" style="background:{fill};color:{ink}">{escape(status)}</span>'


def _time(iso: str | None) -> str:
    return escape(iso.replace("T", " ").rstrip("Z")[:19] + " UTC") if iso else "–"


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


def _header(state: Mapping[str, Any], now: float) -> str:
    pct = progress(state)
    counts: dict[str, int] = {}
    for task in state["tasks"].values():
        counts[task["status"]] = counts.get(task["status"], 0) + 1
    summary = " · ".join(f"{n} {escape(s)}" for s, n in sorted(counts.items()))
    rows = [("Id", f"<code>{escape(state['id'])}</code>"), ("Template", escape(str(state.get("template") or "–"))),
            ("Status", _badge(str(state["status"]))),
            ("Progress", f'<span class="progress"><span style="width:{pct:.1f}%"></span></span> {pct:g}% ({summary})'),
            ("Created", _time(state.get("created_at"))), ("Started", _time(state.get("started_at"))),
            ("Finished", _time(state.get("finished_at"))), ("Duration", escape(duration_text(_run_seconds(state, now))))]
    cells = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    params = "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(_short(v))}</td></tr>" for k, v in (state.get("params") or {}).items())
    params_html = f'<h3>Parameters</h3><table class="params">{params}</table>' if params else ""
    error = f'<p class="error"><strong>Error:</strong> {escape(str(state["error"]))}</p>' if state.get("error") else ""
    return f'<section id="summary"><h1>{escape(str(state.get("name") or state["id"]))}</h1><dl class="meta">{cells}</dl>{error}{params_html}</section>'


def _short(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _legend() -> str:
    items = "".join(f'<span><i style="background:{fill}"></i>{escape(s)}</span>' for s, (fill, _) in STATE_COLORS.items())
    return f'<p class="legend">{items}</p>'


def _task_table(state: Mapping[str, Any]) -> str:
    head = "<tr><th>Task</th><th>Status</th><th>Attempts</th><th>Start</th><th>Duration</th><th>Error</th></tr>"
    rows = []
    for tid, t in state["tasks"].items():
        rows.append(f"<tr><td><code>{escape(tid)}</code></td><td>{_badge(str(t['status']))}</td>"
                    f"<td class=\"num\">{int(t.get('attempts') or 0)}</td><td>{_time(t.get('started_at'))}</td>"
                    f"<td class=\"num\">{escape(duration_text(t.get('duration_seconds')))}</td>"
                    f"<td class=\"error\">{escape(_short(t.get('error') or '', 500))}</td></tr>")
    return f'<section id="tasks"><h2>Tasks</h2><table>{head}{"".join(rows)}</table></section>'


def _errors(state: Mapping[str, Any], logs: Mapping[str, list[str]]) -> str:
    blocks = []
    for tid, t in state["tasks"].items():
        failed_attempts = [h for h in t.get("history") or [] if h.get("status") == "failed"]
        if t["status"] != "failed" and not failed_attempts:
            continue
        facts = [f"status {escape(str(t['status']))}"]
        if t.get("error_kind"):
            facts.append(f"kind {escape(str(t['error_kind']))}")
        if t.get("exit_code") is not None:
            facts.append(f"exit code {escape(str(t['exit_code']))}")
        attempts = "".join(f"<li>attempt {escape(str(h.get('attempt')))}: {escape(str(h.get('error') or 'failed'))}</li>" for h in failed_attempts)
        tail = logs.get(tid) or []
        log_html = f"<pre>{escape(chr(10).join(tail))}</pre>" if tail else ""
        blocks.append(f'<h3><code>{escape(tid)}</code> · {", ".join(facts)}</h3><ul>{attempts}</ul>{log_html}')
    body = "".join(blocks) or "<p>No errors.</p>"
    return f'<section id="errors"><h2>Errors</h2>{body}</section>'


def render_html(state: Mapping[str, Any], document: Mapping[str, Any], *, now: float,
                logs: Mapping[str, list[str]] | None = None, generated_by: str = "workflow-cli") -> str:
    """The whole report page for one instance's state (pure: no file is read)."""
    doc_tasks = document.get("tasks") or {}
    deps = {tid: list((doc_tasks.get(tid) or {}).get("dependencies") or []) for tid in state["tasks"]}
    gantt = gantt_svg(state["tasks"], now=now) or "<p>No attempt has started yet.</p>"
    title = f"{state.get('name') or state['id']} · {state['id']}"
    return "".join([
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body><main>",
        _header(state, now),
        f'<section id="graph"><h2>Graph</h2><div class="scroll">{dag_svg(state["tasks"], deps)}</div>{_legend()}</section>',
        f'<section id="timeline"><h2>Timeline of attempts</h2><div class="scroll">{gantt}</div></section>',
        _task_table(state),
        _errors(state, logs or {}),
        f"<footer>Generated by {escape(generated_by)}</footer></main></body></html>\n",
    ])


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
    from workflow_cli._version import __version__
    from workflow_cli.clock import SystemClock, utc_iso
    from workflow_cli.store.atomic import write_bytes_atomic
    from workflow_cli.store.ids import resolve_instance_id

    paths = InstancePaths(home.instances / resolve_instance_id(home.instances, instance))
    state = load_state(paths)
    now = SystemClock().time()
    page = render_html(state, read_document(paths), now=now, logs=_log_tails(paths, state),
                       generated_by=f"workflow-cli {__version__} at {utc_iso(now)}")
    target = Path(output).expanduser().absolute()
    if target.is_dir():
        raise InvalidInputError.at("--output", f"{target} is a folder", "give a file name such as report.html")
    try:
        write_bytes_atomic(target, page.encode("utf-8"), mode=0o644)
    except OSError as exc:
        raise InvalidInputError.at("--output", f"cannot write {target}: {exc.strerror or exc}",
                                   "choose a writable folder") from exc
    return target
