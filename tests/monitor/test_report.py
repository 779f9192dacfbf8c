"""``report ID --output FILE.html``: a self-contained page, checked as text and in headless Chromium."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from workflow_cli.monitor.report_html import duration_text, render_html
from workflow_cli.monitor.report_svg import STATE_COLORS, dag_svg, gantt_svg, offset_label

RED, GREEN = STATE_COLORS["failed"][0], STATE_COLORS["completed"][0]


@pytest.fixture
def failed_report(mcli, run_doc, mixed_doc, tmp_path) -> tuple[str, Path]:
    """(instance id, report path) of a real failed run."""
    iid = run_doc(mixed_doc, exit_code=1)
    out = tmp_path / "out" / "report.html"
    out.parent.mkdir()
    result = mcli("report", iid[:12], "--output", out)
    assert result.exit_code == 0, result
    assert result.stdout.strip() == str(out)
    return iid, out


def test_report_content(failed_report):
    iid, out = failed_report
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert iid in page and "Mixed &lt;run&gt;" in page and "<run>" not in page
    assert page.count('<svg class="dag fit"') == 1 and page.count('<svg class="gantt fit"') == 1
    for task in ("prepare", "build", "ok2", "after"):
        assert f'data-task="{task}"' in page and f"<code>{task}</code>" in page
    assert re.search(r'data-task="build" data-status="failed"', page)
    assert page.count('class="bar" data-status="failed"') == 2  # both attempts of build, in red
    assert RED in page and GREEN in page and 'marker-end="url(#arrow)"' in page
    assert "command exited with code 3" in page and "oops" in page  # the error and the log tail
    assert "<script" not in page.lower() and "http://" not in page and "https://" not in page
    assert "@import" not in page and "url(" not in page.replace("url(#arrow)", "")


def test_secrets_never_appear(mcli, home_template_yaml, tmp_path):
    out = tmp_path / "secret.html"
    result = mcli("run", "leaky", "--param", "token=s3cr3t-value", "--json")
    assert result.exit_code == 1, result
    report = mcli("report", result.json()["id"], "--output", out)
    assert report.exit_code == 0, report
    page = out.read_text(encoding="utf-8")
    assert "s3cr3t-value" not in page and "token=***" in page


@pytest.fixture
def home_template_yaml(home: Path) -> str:
    (home / "templates" / "leaky.yaml").write_text(
        'version: "2.0.0"\nname: Leaky\nparameters:\n  token: {type: string, secret: true, required: true}\n'
        'tasks:\n  leak:\n    action: command\n    parameters:\n      command: "echo token={{ params.token }}; exit 1"\n')
    return "leaky"


def test_missing_instance_and_bad_output(mcli, run_doc, ok_doc, tmp_path):
    assert mcli("report", "19990101", "--output", tmp_path / "r.html").exit_code == 4
    iid = run_doc(ok_doc)
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    for bad in (blocker / "r.html", tmp_path / "missing" / "r.html", tmp_path):
        result = mcli("report", iid, "--output", bad)
        assert result.exit_code == 2, result
        assert "--output" in result.stderr and "Traceback" not in result.stderr


def test_every_text_is_escaped(states):
    evil = "<script>alert(1)</script>"
    tasks = {"a": states.task("failed", attempts=[(0, 1, "failed")], error=evil)}
    state = states.instance("i1", "failed", tasks, end=1, error=evil)
    state["name"], state["params"] = evil, {"p": evil}
    page = render_html(state, {"tasks": {"a": {}}}, now=states.T0 + 5, logs={"a": [evil]})
    assert "<script" not in page and page.count("&lt;script&gt;") >= 5


def test_dag_layout_by_generations(states):
    tasks = {t: states.task() for t in ("a", "b", "c", "d")}
    svg = dag_svg(tasks, {"b": ["a"], "c": ["a"], "d": ["a", "b"]})
    xs = {m[0]: float(m[1]) for m in re.findall(r'data-task="(\w)".*?<rect x="([\d.]+)"', svg)}
    assert xs["a"] < xs["b"] == xs["c"] < xs["d"]
    assert svg.count('class="edge"') == 4
    assert re.search(r'<path class="edge" d="M[^"]* L[^"]*"', svg)  # a -> d passes the middle column straight


def test_gantt_and_labels(states):
    tasks = {"a": states.task(attempts=[(0, 10, "completed")]), "b": states.task("pending"),
             "c": states.task("running", attempts=[(5, 8, "failed"), (9, None, "")])}
    svg = gantt_svg(tasks, now=states.T0 + 20)
    assert svg.count('class="bar"') == 3 and 'data-status="running"' in svg and 'data-status="failed"' in svg
    assert gantt_svg({"b": states.task("pending")}, now=states.T0) == ""
    assert offset_label(150, 50) == "+2m30s" and offset_label(0.5, 0.1) == "+0.5s" and offset_label(7200, 600) == "+2h00m"
    assert duration_text(0.0421) == "42.1 ms" and duration_text(None) == "–"


# ----- headless Chromium ------------------------------------------------------------------------------


def _png_colours(data: bytes) -> tuple[int, int, set[tuple[int, int, int]]]:
    """(width, height, distinct RGB colours) of an 8-bit RGB or RGBA PNG, decoded with the stdlib only."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        header = chunk if kind == b"IHDR" else header
        idat += chunk if kind == b"IDAT" else b""
        pos += 12 + length
    width, height, depth, ctype = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and ctype in (2, 6), (depth, ctype)
    bpp = 3 if ctype == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    colours: set[tuple[int, int, int]] = set()
    prev = bytearray(stride)
    for y in range(height):
        ftype, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):  # undo the PNG row filter (None, Sub, Up, Average, Paeth)
            a, b, c = (line[i - bpp] if i >= bpp else 0), prev[i], (prev[i - bpp] if i >= bpp else 0)
            if ftype == 1:
                line[i] = (line[i] + a) & 0xFF
            elif ftype == 2:
                line[i] = (line[i] + b) & 0xFF
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        colours.update(tuple(line[i:i + 3]) for i in range(0, stride, bpp))
        prev = line
    return width, height, colours


def _shows(colours: set[tuple[int, int, int]], hex_colour: str, tolerance: int = 8) -> bool:
    """Whether some pixel is within ``tolerance`` per channel of ``hex_colour`` (colour management may shift it)."""
    want = bytes.fromhex(hex_colour.lstrip("#"))
    return any(all(abs(p - w) <= tolerance for p, w in zip(pixel, want)) for pixel in colours)


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def test_report_renders_in_headless_chromium(failed_report, tmp_path):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium not installed: apt-get install chromium")
    _, out = failed_report
    shot = tmp_path / "shot.png"
    base = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    subprocess.run([*base, f"--screenshot={shot}", "--window-size=1400,1000", out.as_uri()],
                   capture_output=True, timeout=120, check=False)
    dom = subprocess.run([*base, "--dump-dom", out.as_uri()], capture_output=True, text=True, timeout=120, check=False).stdout
    assert '<svg class="dag' in dom and '<svg class="gantt' in dom and 'data-task="build"' in dom
    assert shot.is_file() and shot.stat().st_size > 10_000
    width, height, colours = _png_colours(shot.read_bytes())
    assert (width, height) == (1400, 1000)
    for state in ("completed", "failed", "skipped"):  # the colours of the run's task states are on screen
        assert _shows(colours, STATE_COLORS[state][0]), state


def test_report_shows_each_task_name_beside_its_id(sh, write, tmp_path):
    doc = {"version": "2.0.0", "name": "Named", "tasks": {
        "fetch": {"name": "Fetch the <data>", "action": "noop"},
        "crunch": {"name": "Crunch numbers", "action": "command", "dependencies": ["fetch"],
                   "parameters": {"command": "exit 2"}},
        "plain": {"action": "noop"}}}
    run = sh("--json", "run", write("named.json", doc))
    assert run.exit_code == 1, run
    out = tmp_path / "named.html"
    assert sh("report", run.json()["id"], "--output", out).exit_code == 0
    page = out.read_text(encoding="utf-8")
    assert "<td><code>fetch</code></td><td>Fetch the &lt;data&gt;</td>" in page
    assert "<td><code>crunch</code></td><td>Crunch numbers</td>" in page
    assert "<td><code>plain</code></td><td></td>" in page
    assert "<h3><code>crunch</code> (Crunch numbers) · status failed" in page
    assert "<th>Name</th>" in page
