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
    (f"{{% filter replace(\"'\", \"\") %}}echo {V}{{% endfilter %}}", "inside a {% filter %} block"),
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
    # found by the property test: a tag where the shell reads a heredoc delimiter, or escaped by a backslash
    assert (TAGS, "in a heredoc delimiter") in quoting_problems(f"echo <<{{% for i in n %}} {V}'{{% endfor %}}")
    assert quoting_problems(f"echo \\{{% if x %}}{{% endif %}}{V}")[0][0] == TAGS
    assert quoting_problems(f"echo <<-\\{{% for i in n %}}EOF{{% endfor %}}{V}")[0][0] == TAGS
    assert quoting_problems(f"echo ${{% if x %}}{{% endif %}}{V}")[0][0] == TAGS
    assert quoting_problems(f"{{% if x %}}echo {V}{{% endif %}}") == []
    assert quoting_problems(f"{{% if x %}}echo{{% endif %}}#{V}") == [(V, "inside a comment")]  # `#{V}` when x is false
    # a block `set` captures text without printing it: its end does not close the enclosing `if`
    assert quoting_problems(f"{{% if x %}}{{% set y %}}'{{% endset %}}echo {V}{{% endif %}}") == []


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


def _run_all(command: str, scopes: list[dict], folder: Path) -> None:
    for scope in scopes:
        for payload in PAYLOADS:
            line = render_value(command, {"params": {**scope, "v": payload}}, shell=True)
            subprocess.run(["/bin/sh", "-c", line], check=False, cwd=folder, capture_output=True, timeout=10,
                           stdin=subprocess.DEVNULL)
            assert not [n for n in os.listdir(folder) if n.startswith("PWNED")], (command, scope, payload)


_TEXT = st.lists(st.sampled_from(PIECES), max_size=6).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=_TEXT, b=_TEXT, c=_TEXT, d=_TEXT, loop=st.booleans())
def test_whatever_jinja_skips_or_repeats_an_accepted_command_stays_safe(a, b, c, d, loop, tmp_path_factory):
    """Random text around {% if %}/{% else %} or a {% for %}: every branch and repetition is run."""
    if loop:
        command = f"echo {a}{{% for i in params.n %}}{b}{{% endfor %}}{d}"
        scopes = [{"n": []}, {"n": [1]}, {"n": [1, 2, 3]}]
    else:
        command = f"echo {a}{{% if params.f %}}{b}{{% else %}}{c}{{% endif %}}{d}"
        scopes = [{"f": True}, {"f": False}]
    if V not in command or quoting_problems(command):
        return
    try:
        render_value(command, {"params": {**scopes[0], "v": "x"}}, shell=True)
    except ExpressionError:
        return
    _run_all(command, scopes, tmp_path_factory.mktemp("sh"))
