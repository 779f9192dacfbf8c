"""The web UI (SPEC 19) in real headless Chromium (Playwright with Debian's /usr/bin/chromium) against a real ``serve``.

Every browser context records each request it makes and each console error; a test fails if a page
asked for anything but the server (no CDN, no font) or broke its Content-Security-Policy.
Screenshots of the main pages are kept in ``tests/artifacts/ui/`` (git-ignored) to be looked at.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("WORKFLOW_CLI_CHROMIUM", "/usr/bin/chromium"))
if not CHROMIUM.is_file():
    pytest.skip(f"chromium not installed at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
expect = sync_api.expect

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "ui"
WAIT_MS = 30_000


def _cmd(command: str, **extra: Any) -> dict[str, Any]:
    return {"action": "command", "parameters": {"command": command}, **extra}


TEMPLATES: dict[str, Any] = {
    "steps": {"version": "2.0.0", "name": "Steps", "description": "Three steps in a row", "tasks": {
        "one": _cmd("sleep 0.3; echo step one"), "two": _cmd("echo step two", dependencies=["one"]),
        "three": _cmd("echo step three", dependencies=["two"])}},
    "flaky": {"version": "2.0.0", "name": "Flaky", "parameters": {"flag": {"type": "string", "required": True}}, "tasks": {
        "bad": _cmd('test -f {{ params.flag }} || { echo "boom: no flag file" >&2; exit 3; }; echo "fixed now"'),
        "after": {"action": "noop", "dependencies": ["bad"]}}},
    "tail": {"version": "2.0.0", "name": "Tail", "parameters": {"flag": {"type": "string", "required": True}}, "tasks": {
        "follow": _cmd("echo first line; while [ ! -f {{ params.flag }} ]; do sleep 0.05; done; echo second line")}},
    "gate": {"version": "2.0.0", "name": "Budget", "tasks": {
        "ask": {"action": "approval_gate", "parameters": {
            "approvers": ["ann"], "message": "Approve the budget?",
            "input_schema": {"type": "object", "properties": {"budget": {"type": "integer"}, "note": {"type": "string"}},
                             "required": ["budget"]}}},
        "done": {"action": "noop", "dependencies": ["ask"]}}},
    "greet": {"version": "2.0.0", "name": "Greet", "description": "Say hello with typed parameters", "parameters": {
        "who": {"type": "string", "required": True, "description": "whom to greet"},
        "n": {"type": "integer", "default": 2},
        "color": {"type": "string", "enum": ["red", "blue"], "default": "red"},
        "loud": {"type": "boolean", "default": False},
        "pw": {"type": "string", "secret": True, "required": False, "default": ""}},
        "tasks": {"say": _cmd("echo hello {{ params.who }} {{ params.n }} {{ params.color }} {{ params.loud }} pw={{ params.pw }}")}},
}


@pytest.fixture(scope="module")
def ui(kit: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One home and server for the module, a token per person: admin, ops (operator), ann and vic (viewers)."""
    root = tmp_path_factory.mktemp("ui")
    home = kit.make_home(root, TEMPLATES)
    server = kit.Server(home)
    tokens = {"admin": server.admin_token}
    for name, role in (("ops", "operator"), ("ann", "viewer"), ("vic", "viewer")):
        made = kit.cli(home, "--json", "token", "create", name, "--role", role)
        assert made.returncode == 0, made.stderr
        tokens[name] = json.loads(made.stdout)["token"]
    api = server.client(tokens["ops"])
    yield type("UI", (), {"home": home, "root": root, "server": server, "url": server.url, "tokens": tokens, "api": api})
    api.close()
    code, log = server.stop(signal.SIGINT)
    assert code == 0, log


@pytest.fixture(scope="module")
def browser() -> Any:
    """One headless Chromium (the system's) for the module."""
    with sync_api.sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield instance
        instance.close()


@pytest.fixture
def login(browser: Any, ui: Any) -> Any:
    """``login(name)``: a fresh browser context logged in as that token (via ``?token=``), its page on the runs page."""
    contexts: list[tuple[Any, list[str], list[str]]] = []

    def make(name: str, *, width: int = 1280, path: str = "/") -> Any:
        context = browser.new_context(viewport={"width": width, "height": 900})
        requests: list[str] = []
        problems: list[str] = []
        context.on("request", lambda r: requests.append(r.url))
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(f"uncaught: {e}"))
        contexts.append((context, requests, problems))
        page.goto(f"{ui.url}{path}{'&' if '?' in path else '?'}token={ui.tokens[name]}")
        return page

    yield make
    for context, requests, problems in contexts:
        context.close()
        foreign = [u for u in requests if not u.startswith((ui.url + "/", "data:", "about:"))]
        assert not foreign, f"a page requested something outside the server: {foreign}"
        # 401/403/409 answers that a test provoked on purpose show up as console errors of the failed fetch
        assert not [p for p in problems if "status of 40" not in p], problems


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _create(ui: Any, template: str, **body: Any) -> str:
    response = ui.api.post("/api/v1/instances", json={"template": template, **body})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _post_from_page(page: Any, path: str, body: Any) -> int:
    """A POST made by the page's own JavaScript (the session cookie, JSON): the HTTP status."""
    return int(page.evaluate("""async ([path, body]) => (await fetch(path, {method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)})).status""", [path, body]))


def test_login_form_then_cookie_and_token_address(browser: Any, ui: Any) -> None:
    context = browser.new_context()
    page = context.new_page()
    response = page.goto(f"{ui.url}/templates")
    assert response.status == 401
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp and "script-src 'self'" in csp
    page.get_by_label("Token").fill("wfc_wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid")
    page.get_by_label("Token").fill(ui.tokens["vic"])
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Templates", level=1)).to_be_visible()
    assert page.url == f"{ui.url}/templates"
    cookie = next(c for c in context.cookies() if c["name"] == "wfc_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # HttpOnly: no script can read the token
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_label("Token")).to_be_visible()
    page.goto(f"{ui.url}/health?token={ui.tokens['vic']}")  # the address serve prints: the cookie, then the address without it
    assert page.url == f"{ui.url}/health"
    expect(page.get_by_role("heading", name="Health")).to_be_visible()
    expect(page.locator("header .who")).to_contain_text("vic")
    context.close()


def test_run_page_follows_the_run_live_until_it_completes(login: Any, ui: Any, kit: Any) -> None:
    iid = _create(ui, "steps", start=False)
    page = login("ops", path=f"/instances/{iid}")
    expect(page.locator("#summary .badge")).to_have_text("created")
    page.evaluate("window.__notReloaded = true")
    page.get_by_role("button", name="Start").click()
    expect(page.locator("#summary .badge")).to_have_text("completed", timeout=WAIT_MS)
    for task in ("one", "two", "three"):
        expect(page.locator(f'#graph g.node[data-task="{task}"]')).to_have_attribute("data-status", "completed")
        expect(page.locator(f'#tasks tr[data-task="{task}"] .badge')).to_have_text("completed")
    expect(page.locator("#timeline svg.gantt rect.bar")).to_have_count(3)
    expect(page.locator("#checkpoints")).to_contain_text("cp-0003")
    assert page.evaluate("window.__notReloaded === true")  # updated in place from the event stream
    page.locator('#graph g.node[data-task="one"]').focus()
    page.keyboard.press("Enter")  # the graph is usable by keyboard
    expect(page.locator("#log")).to_contain_text("step one")
    expect(page.locator("#detail")).to_contain_text("Attempts")
    _shot(page, "run-completed")
    kit.until_status(ui.api, iid, "completed")


def test_failed_task_shows_its_log_and_is_retried(login: Any, ui: Any, kit: Any) -> None:
    flag = ui.root / "flag"
    iid = _create(ui, "flaky", params={"flag": str(flag)})
    kit.until_status(ui.api, iid, "failed")
    page = login("ops", path=f"/instances/{iid}")
    expect(page.locator("#summary .badge")).to_have_text("failed")
    page.locator("#tasks").get_by_role("link", name="bad").click()
    expect(page.locator("#log")).to_contain_text("boom: no flag file")
    expect(page.locator("#detail")).to_contain_text("exit")
    assert "task=bad" in page.url
    _shot(page, "run-failed-task")
    flag.write_text("ok")
    page.get_by_label("and everything downstream").check()
    page.get_by_role("button", name="Retry bad").click()
    expect(page.locator("#summary .badge")).to_have_text("completed", timeout=WAIT_MS)
    expect(page.locator("#log")).to_contain_text("fixed now")
    expect(page.locator('#graph g.node[data-task="after"]')).to_have_attribute("data-status", "completed")
    expect(page.locator("#detail table tbody tr")).to_have_count(2)  # both attempts of 'bad'


def test_a_running_tasks_log_is_followed(login: Any, ui: Any, kit: Any) -> None:
    flag = ui.root / "tail-flag"
    iid = _create(ui, "tail", params={"flag": str(flag)})
    kit.wait_for(lambda: kit.status_of(ui.api, iid)["tasks"]["follow"]["status"] == "running", what="the task to run")
    page = login("vic", path=f"/instances/{iid}?task=follow")
    expect(page.locator("#log")).to_contain_text("first line")
    expect(page.locator("#detail h3 .live")).to_have_text("following")
    page.evaluate("window.__notReloaded = true")
    flag.write_text("go")
    expect(page.locator("#log")).to_contain_text("second line", timeout=WAIT_MS)
    expect(page.locator("#summary .badge")).to_have_text("completed", timeout=WAIT_MS)
    assert page.evaluate("window.__notReloaded === true")
    kit.until_status(ui.api, iid, "completed")


def test_roll_back_to_a_chosen_checkpoint(login: Any, ui: Any, kit: Any) -> None:
    iid = _create(ui, "steps")
    kit.until_status(ui.api, iid, "completed")
    page = login("ops", path=f"/instances/{iid}")
    page.on("dialog", lambda dialog: dialog.accept())  # "Roll back to ...?" asks first
    page.get_by_label("Roll back to").select_option("cp-0001")
    page.get_by_role("button", name="Roll back").click()
    expect(page.locator("#summary .badge")).to_have_text("paused", timeout=WAIT_MS)
    expect(page.locator('#graph g.node[data-task="one"]')).to_have_attribute("data-status", "completed")
    expect(page.locator('#graph g.node[data-task="three"]')).to_have_attribute("data-status", "pending")
    page.get_by_role("button", name="Resume").click()
    expect(page.locator("#summary .badge")).to_have_text("completed", timeout=WAIT_MS)
    kit.until_status(ui.api, iid, "completed")


def test_only_the_gates_approver_may_approve(login: Any, ui: Any, kit: Any) -> None:
    iid = _create(ui, "gate")
    kit.until_status(ui.api, iid, "waiting")
    for other in ("vic", "ops"):  # a viewer and an operator who are not listed: no buttons, and the API says 403
        page = login(other, path=f"/instances/{iid}")
        expect(page.locator("#gates")).to_contain_text("may not decide")
        expect(page.get_by_role("button", name="Approve")).to_have_count(0)
        page.goto(f"{ui.url}/approvals")
        expect(page.locator(f'[data-gate-key="{iid}/ask"]')).to_have_count(0)
        assert _post_from_page(page, f"/api/v1/instances/{iid}/tasks/ask/approve", {"data": {"budget": 1}}) == 403
    page = login("ann", path="/approvals")
    card = page.locator(f'[data-gate-key="{iid}/ask"]')
    expect(card).to_contain_text("Approve the budget?")
    _shot(page, "approvals")
    card.get_by_label("budget").fill("1.5")
    card.get_by_role("button", name="Approve").click()
    expect(card.get_by_role("alert")).to_contain_text("whole number")
    card.get_by_label("budget").fill("1200")
    card.get_by_label("Comment").fill("fine by me")
    card.get_by_role("button", name="Approve").click()
    expect(page.locator(f'[data-gate-key="{iid}/ask"]')).to_have_count(0)
    doc = kit.until_status(ui.api, iid, "completed")
    assert doc["tasks"]["ask"]["outputs"]["budget"] == 1200
    decided = [e for e in ui.api.get(f"/api/v1/instances/{iid}/events").json() if e["type"] == "approval.decided"]
    assert decided and decided[-1]["data"]["by"] == "ann" and decided[-1]["data"].get("comment") == "fine by me"
    page.evaluate("window.__notReloaded = true")
    second = _create(ui, "gate")  # a new gate shows up on the open page by itself
    card = page.locator(f'[data-gate-key="{second}/ask"]')
    expect(card).to_be_visible(timeout=WAIT_MS)
    card.get_by_label("Comment").fill("not this quarter")
    card.get_by_role("button", name="Reject").click()
    expect(card).to_have_count(0)
    assert kit.until_status(ui.api, second, "failed")["tasks"]["ask"]["status"] == "failed"
    assert page.evaluate("window.__notReloaded === true")
    expect(page.locator("#approvals")).to_contain_text("Nothing is waiting for you")


def test_start_a_template_from_its_form(login: Any, ui: Any, kit: Any) -> None:
    page = login("vic", path="/templates/greet")
    expect(page.locator("#run-form")).to_have_count(0)  # a viewer sees no run form
    page = login("ops", path="/templates")
    page.get_by_role("link", name="greet").click()
    expect(page.locator("table")).to_contain_text("whom to greet")
    assert page.get_by_label("pw").get_attribute("type") == "password"
    assert page.get_by_label("color").evaluate("el => el.tagName") == "SELECT"
    _shot(page, "template")
    page.get_by_label("who").fill("Zed")
    page.get_by_label("n integer", exact=True).fill("7")
    page.get_by_label("color").select_option("blue")
    page.get_by_label("loud").check()
    page.get_by_label("pw").fill("hunter2")
    page.get_by_role("button", name="Start run").click()
    page.wait_for_url(f"{ui.url}/instances/*")
    expect(page.locator("#summary .badge")).to_have_text("completed", timeout=WAIT_MS)
    iid = page.url.rsplit("/", 1)[1]
    doc = kit.until_status(ui.api, iid, "completed")
    assert doc["params"] == {"who": "Zed", "n": 7, "color": "blue", "loud": True, "pw": "***"}
    expect(page.locator("#values")).to_contain_text("***")
    assert "hunter2" not in page.content()
    page.locator("#tasks").get_by_role("link", name="say").click()
    expect(page.locator("#log")).to_contain_text("hello Zed 7 blue True pw=***")


def test_runs_page_filters_and_updates_live(login: Any, ui: Any, kit: Any) -> None:
    page = login("vic")
    page.evaluate("window.__notReloaded = true")
    iid = _create(ui, "steps")
    row = page.locator(f'#runs-body tr[data-id="{iid}"]')
    expect(row).to_be_visible()
    expect(row.locator(".badge")).to_have_text("completed", timeout=WAIT_MS)
    page.get_by_label("Status").select_option("failed")
    expect(row).to_have_count(0)
    page.get_by_label("Status").select_option("")
    page.get_by_label("Template").select_option("steps")
    expect(row).to_be_visible()
    assert "template=steps" in page.url and page.evaluate("window.__notReloaded === true")
    _shot(page, "runs")
    kit.until_status(ui.api, iid, "completed")


def test_pages_at_phone_width_and_health(login: Any, ui: Any) -> None:
    page = login("admin", width=390, path="/health")
    expect(page.get_by_role("heading", name="Health")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")  # nothing sticks out sideways
    _shot(page, "health-phone")
    runs = ui.api.get("/api/v1/instances", params={"template": "steps", "limit": 1}).json()
    page.goto(f"{ui.url}/instances/{runs[0]['id']}")
    expect(page.locator("#summary .badge")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    _shot(page, "run-phone")
    page.goto(f"{ui.url}/instances/nope-nothing")
    expect(page.get_by_role("alert")).to_contain_text("nope-nothing")
