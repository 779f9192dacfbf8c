"""SPEC 14: no value can run shell syntax in a ``command`` string, whatever the author's own quotes.

Each hostile payload below breaks out of at least one quoting context when a placeholder sits inside
the author's quotes (checked by running the naive rendering through ``/bin/sh``: the marker file
appears). Such placeholders are refused at ``validate``/``create``; unquoted, every payload runs as
plain data, whether it comes from a parameter, a task's outputs, a signal, approval data or a foreach item.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

PAYLOADS = [
    "$(touch PWNED)",
    "`touch PWNED`",
    "'; touch PWNED; '",
    '"; touch PWNED; "',
    '"$(touch PWNED)"',
    "'\"$(touch PWNED)\"'",
    "\ntouch PWNED\n",
    "x\nEOF\ntouch PWNED\n'",
    "\\'; touch PWNED; #",
    "'`touch PWNED`'",
    "; touch PWNED #",
    "|| touch PWNED",
    "${IFS}touch${IFS}PWNED",
    "') ; touch PWNED ; ('",
    "\\",
    "x}; touch PWNED; #",
    "1)); touch PWNED; echo $((1",
]

# A command with the placeholder {{ V }} in a context that undoes the quoting, and the words of the
# message that names it.
REFUSED = {
    "single-quotes": ("echo '{{ V }}'", "inside single quotes"),
    "double-quotes": ('echo "{{ V }}"', "inside double quotes"),
    "double-quotes-with-text": ('echo "value: {{ V }} (end)"', "inside double quotes"),
    "backticks": ("echo `echo {{ V }}`", "inside backticks"),
    "backticks-in-double-quotes": ('echo "`echo {{ V }}`"', "inside backticks"),
    "dollar-single-quotes": ("echo $'{{ V }}'", "inside $'...' quotes"),
    "param-expansion": ("echo ${UNSET_X:-{{ V }}}", "inside ${...}"),
    "arithmetic": ("echo $(( {{ V }} ))", "inside $((...))"),
    "comment": ("echo hi # {{ V }}", "inside a comment"),
    "heredoc": ("cat <<EOF\n{{ V }}\nEOF", "inside a heredoc"),
    "heredoc-quoted-delimiter": ("cat <<'EOF'\n{{ V }}\nEOF", "inside a heredoc"),
    "heredoc-dash": ("cat <<-EOF\n\t{{ V }}\n\tEOF", "inside a heredoc"),
    "after-backslash": ("echo \\{{ V }}", "right after a backslash"),
    "quotes-inside-cmdsubst": ("echo $(echo '{{ V }}')", "inside single quotes"),
}

# Contexts where a placeholder is one quoted word: every payload must come out as plain data.
ALLOWED = {
    "plain": "printf '%s' {{ V }}",
    "cmdsubst-in-double-quotes": 'printf \'%s\' "$(printf \'%s\' {{ V }})"',
    "assignment": "X={{ V }}; printf '%s' \"$X\"",
    "concatenated": "printf '%s' pre{{ V }}post",
    "after-escaped-backslash": "printf '%s' \\\\{{ V }}",
    "hash-inside-word": "printf '%s' a#{{ V }}",
    "after-a-heredoc": "cat <<'EOF' >/dev/null\nliteral '\nEOF\nprintf '%s' {{ V }}",
}
EXPECTED = {
    "cmdsubst-in-double-quotes": lambda p: p.rstrip("\n"),  # $( ) drops trailing newlines
    "concatenated": lambda p: f"pre{p}post",
    "after-escaped-backslash": lambda p: "\\" + p,
    "hash-inside-word": lambda p: "a#" + p,
}


def _document(command: str, expr: str = "params.v") -> dict:
    return {"version": "2.0.0", "name": "quoting", "parameters": {"v": {"type": "string", "default": "x"}},
            "tasks": {"t": {"action": "command", "parameters": {"command": command.replace("V", expr)}}}}


def _planted(*folders: Path) -> list[Path]:
    return [p for folder in folders if folder.exists() for p in folder.rglob("PWNED*")]


# -- the payloads are real: each quoting context is broken by one of them --------------------------------

# Refused too, though /bin/sh = dash happens to survive these payloads: how quotes and backslashes
# nest inside backticks and ${...} differs between shells (bash, zsh, busybox).
SHELL_DEPENDENT = {"backticks", "backticks-in-double-quotes", "param-expansion"}


@pytest.mark.parametrize("context", sorted(set(REFUSED) - SHELL_DEPENDENT))
def test_without_the_check_some_payload_escapes_each_refused_context(context, tmp_path):
    """The naive rendering (shell-quote the value, keep the author's quotes) runs a payload's command."""
    from workflow_cli.templates.render import render_value

    command, _ = REFUSED[context]
    escaped = []
    for n, payload in enumerate(PAYLOADS):
        folder = tmp_path / str(n)
        folder.mkdir()
        line = render_value(command.replace("V", "params.v"), {"params": {"v": payload}}, shell=True)
        subprocess.run(["/bin/sh", "-c", line], check=False, cwd=folder, capture_output=True, timeout=10,
                       env={"PATH": "/usr/bin:/bin", "IFS": " \t\n"})
        if _planted(folder):
            escaped.append(payload)
    assert escaped, f"no payload escapes {context!r}: the payload list is too weak"


# -- refused at validate and create ------------------------------------------------------------------------

@pytest.mark.parametrize("context", sorted(REFUSED))
def test_a_quoted_placeholder_is_refused_at_validate_and_create(context, cli, write, home, snapshot_tree):
    command, where = REFUSED[context]
    path = write(f"{context}.json", _document(command))
    result = cli("validate", path, "--json")
    assert result.exit_code == 2, result
    [error] = result.json()["errors"]
    assert error["path"] == "tasks.t.parameters.command"
    assert where in error["message"] and "quoted for you" in error["message"], error
    before = snapshot_tree(home)
    created = cli("create", path, "--param", "v=$(touch PWNED)")
    assert created.exit_code == 2, created
    assert "tasks.t.parameters.command" in created.stderr and "quoted for you" in created.stderr
    assert snapshot_tree(home) == before
    assert _planted(home) == []


def test_the_console_script_refuses_a_quoted_placeholder_and_runs_nothing(sh, write, home, tmp_path):
    path = write("quoted.yaml", yaml.safe_dump(_document("echo '{{ V }}'")))
    for args in (("validate", path), ("run", path, "--param", "v=$(touch PWNED)")):
        result = sh(*args, cwd=tmp_path)
        assert result.exit_code == 2, result
        assert "tasks.t.parameters.command: placeholder {{ params.v }} is inside single quotes" in result.stderr
        assert "quoted for you" in result.stderr and result.stderr.count("\n") <= 3
    assert _planted(home, tmp_path) == []
    assert not (home / "instances").exists() or not any((home / "instances").iterdir())


def test_compensations_and_hooks_follow_the_same_rule(cli, write):
    doc = _document("true")
    doc["tasks"]["t"]["compensate"] = {"action": "command", "parameters": {"command": "echo \"{{ params.v }}\""}}
    doc["hooks"] = {"task.failed": [{"action": "command", "parameters": {"command": "echo '{{ event.type }}'"}}]}
    result = cli("validate", write("other.json", doc), "--json")
    assert result.exit_code == 2, result
    paths = sorted(e["path"] for e in result.json()["errors"])
    assert paths == ["hooks.task.failed[0].parameters.command", "tasks.t.compensate.parameters.command"]


def test_jinja_tags_in_different_quoting_contexts_are_refused(cli, write):
    command = "{% if params.v %}'{% endif %}{{ params.v }}"
    result = cli("validate", write("tags.json", _document(command)), "--json")
    assert result.exit_code == 2
    assert any("{% %} tags" in e["message"] for e in result.json()["errors"])
    fine = "echo \"{% if params.v %}yes{% else %}no{% endif %}\" {{ params.v }}; {% for c in 'ab' %}echo {{ c }};{% endfor %}"
    assert cli("validate", write("fine.json", _document(fine))).exit_code == 0


# -- unquoted: plain data, from every source -----------------------------------------------------------------

@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_every_payload_is_plain_data_where_placeholders_are_allowed(payload, sh, write, home, tmp_path):
    doc = {"version": "2.0.0", "name": "allowed", "parameters": {"v": {"type": "string"}}, "tasks": {
        name: {"action": "command", "parameters": {"command": command.replace("V", "params.v") + " > out-" + name}}
        for name, command in ALLOWED.items()}}
    run = sh("--json", "run", write("allowed.json", doc), "--param", f"v={payload}", cwd=tmp_path)
    assert run.exit_code == 0, run
    workspace = tmp_path  # where the commands ran: the run's base directory (SPEC 6.2)
    for name in ALLOWED:
        assert (workspace / f"out-{name}").read_text() == EXPECTED.get(name, lambda p: p)(payload), name
    assert _planted(home, tmp_path) == []


HOSTILE = "'; touch PWNED; ' \"$(touch PWNED)\" `touch PWNED`\ntouch PWNED"


def _show(expr: str, name: str, deps: list[str]) -> dict:
    return {"action": "command", "dependencies": deps,
            "parameters": {"command": f"printf '%s' {{{{ {expr} }}}} > {name}.txt"}}


def test_values_from_outputs_foreach_items_signals_and_approvals_are_quoted(sh, write, home, tmp_path):
    produce = "import json, os; json.dump({'v': os.environ['HOSTILE']}, open(os.environ['WORKFLOW_OUTPUT'], 'w'))"
    doc = {"version": "2.0.0", "name": "sources", "parameters": {"items": {"type": "array"}}, "tasks": {
        "produce": {"action": "command", "parameters": {"command": ["python3", "-c", produce], "env": {"HOSTILE": HOSTILE}}},
        "from_output": _show("tasks.produce.outputs.v", "output", ["produce"]),
        "each": {"action": "command", "foreach": "{{ params.items }}",
                 "parameters": {"command": "printf '%s' {{ item }} > item-{{ index }}.txt"}},
        "gate": {"action": "approval_gate", "parameters": {"message": "ok?"}},
        "from_approval": _show("tasks.gate.outputs.note", "approval", ["gate"]),
        "signal": {"action": "wait", "parameters": {"signal": "go"}},
        "from_signal": _show("tasks.signal.outputs.payload.note", "signal", ["signal"]),
    }}
    path = write("sources.json", doc)
    run = sh("--json", "run", path, "--param", "items=" + json.dumps([HOSTILE, "$(touch PWNED)"]), cwd=tmp_path)
    assert run.exit_code == 3, run  # waiting for the approval and the signal
    iid = run.json()["id"]
    data = json.dumps({"note": HOSTILE})
    assert sh("signal", iid, "go", "--data", data, "--no-continue", cwd=tmp_path).exit_code == 0
    done = sh("--json", "approve", iid, "gate", "--data", data, cwd=tmp_path)
    assert done.exit_code == 0, done
    workspace = tmp_path  # where the commands ran: the run's base directory (SPEC 6.2)
    for name in ("output", "approval", "signal", "item-0"):
        assert (workspace / f"{name}.txt").read_text() == HOSTILE, name
    assert (workspace / "item-1.txt").read_text() == "$(touch PWNED)"
    assert _planted(home, tmp_path) == []


def test_an_argv_list_shell_script_with_a_placeholder_is_refused(cli, sh, write, home, tmp_path):
    """``["sh", "-c", "echo {{ v }}"]`` is not rendered for a shell: the value would be the script itself."""
    from workflow_cli.templates.render import render_value

    naive = render_value(["sh", "-c", "echo {{ params.v }}"], {"params": {"v": "$(touch PWNED)"}})
    subprocess.run(naive, cwd=tmp_path, capture_output=True, timeout=10, check=False)
    assert _planted(tmp_path), "the naive rendering should have run the payload"
    (tmp_path / "PWNED").unlink()

    for argv in (["sh", "-c", "echo {{ params.v }}"], ["/bin/bash", "-ec", "echo {{ params.v }}"]):
        doc = _document("x")
        doc["tasks"]["t"]["parameters"]["command"] = argv
        result = cli("validate", write("argv.json", doc), "--json")
        assert result.exit_code == 2, result
        assert [e["path"] for e in result.json()["errors"]] == ["tasks.t.parameters.command[2]"]
    doc = _document("x")
    doc["tasks"]["t"]["parameters"]["command"] = ["sh", "-c", 'printf %s "$1" > out.txt', "sh", "{{ params.v }}"]
    run = sh("--json", "run", write("positional.json", doc), "--param", "v=$(touch PWNED)", cwd=tmp_path)
    assert run.exit_code == 0, run
    assert (tmp_path / "out.txt").read_text() == "$(touch PWNED)"  # the run's base directory (SPEC 6.2)
    assert _planted(home, tmp_path) == []
