"""The shell-context walk behind the quoted-placeholder check (SPEC 14), and a property test against /bin/sh."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workflow_cli.templates.render import ExpressionError, render_value
from workflow_cli.templates.shell_check import TAGS, quoting_problems

V = "{{ params.v }}"


@pytest.mark.parametrize(("command", "where"), [
    (f"echo '{V}'", "inside single quotes"),
    (f'echo "a {V} b"', "inside double quotes"),
    (f"echo `x {V}`", "inside backticks"),
    (f'echo "$(echo `echo {V}`)"', "inside backticks"),
    (f"echo $'{V}'", "inside $'...' quotes"),
    (f"echo ${{X:-{V}}}", "inside ${...}"),
    (f"echo $(( {V} ))", "inside $((...))"),
    (f"echo # {V}", "inside a comment"),
    (f"echo \\\n# {V}", "inside a comment"),  # found by the property test: a line continuation, then a comment
    (f"cat <<EOF\n{V}\nEOF", "inside a heredoc"),
    (f"cat <<E1 <<E2\nE1\n{V}\nE2", "inside a heredoc"),
    (f"cat <<{V}\nx", "as a heredoc delimiter"),
    (f"echo \\{V}", "right after a backslash"),
    (f"echo ${V}", "right after a $"),
])
def test_contexts_that_undo_the_quoting_are_named(command, where):
    assert quoting_problems(command) == [(V, where)]


@pytest.mark.parametrize("command", [
    f"echo {V}",
    f'echo "$(printf %s {V})"',
    f"echo a#{V} 'it''s' \"q\\\"\" {V}",
    f"echo \\\\{V}",
    f"cat <<'EOF'\n'\"`\nEOF\necho {V}",
    f"cat <<-EOF\n\tbody\n\tEOF\necho {V}",
    f"cat <<< {V}",
    f"echo $((1 << 2)) {V}",
    "echo {{ \"}}\" }} '{% raw %}{{ x }}{% endraw %}'",
    f"{{% for f in params.files %}}cat {V};{{% endfor %}}",
    f"echo \"{{% if params.v %}}yes{{% else %}}no{{% endif %}}\" {V}",
    "echo '{{ broken'",  # not a valid template: reported elsewhere, not here
])
def test_placeholders_that_stay_one_quoted_word_pass(command):
    assert quoting_problems(command) == []


def test_tags_of_one_structure_in_different_contexts_are_reported():
    assert (TAGS, "in different quoting contexts") in quoting_problems(f"{{% if x %}}'{{% endif %}}{V}")
    assert quoting_problems("echo '{% if x %}a{% endif %}'") == []  # no placeholder: nothing to quote


PAYLOADS = ["$(touch PWNED)", "`touch PWNED`", "'; touch PWNED; '", '"; touch PWNED; "', "\ntouch PWNED\n",
            "x\nEOF\ntouch PWNED\n'", "\\'; touch PWNED; #", "') ; touch PWNED ; ('", "x}; touch PWNED; #", "\\"]
PIECES = ["echo", " ", "'", '"', "`", "$", "(", ")", "{", "}", "\\", "#", "\n", ";", "<<", "<<-", "EOF", "\t", "x", "|", V, V]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(st.sampled_from(PIECES), min_size=1, max_size=14))
def test_any_command_the_check_accepts_runs_every_payload_as_data(pieces, tmp_path_factory):
    """Random shell text: when the check passes it, no payload in any placeholder runs a command."""
    command = "echo " + "".join(pieces)
    if V not in command or quoting_problems(command):
        return
    try:
        render_value(command, {"params": {"v": "x"}}, shell=True)
    except ExpressionError:
        return  # not a template (e.g. "{{{"): refused by validate for that reason
    folder: Path = tmp_path_factory.mktemp("sh")
    for payload in PAYLOADS:
        line = render_value(command, {"params": {"v": payload}}, shell=True)
        subprocess.run(["/bin/sh", "-c", line], check=False, cwd=folder, capture_output=True, timeout=10, stdin=subprocess.DEVNULL)
        assert not [n for n in os.listdir(folder) if n.startswith("PWNED")], (command, payload)
