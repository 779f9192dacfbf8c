"""The README's Quick tour, run verbatim: its shell lines in one shell, in a checkout holding the
``my-flow.yaml`` the README prints and the Makefile, tests and scripts that document implies.

The lines run as printed (``~`` is a temporary HOME); after each one the harness records its exit
code, so a line that stops working fails here with its text.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
CONSOLE_SCRIPT = Path(sys.executable).with_name("workflow-cli")
TOKEN = "tour-s3cr3t-token"

# What the tour's document implies about the checkout it runs in.
MAKEFILE = """\
build:
\t@echo "building for $(REGION)"
\t@mkdir -p dist && echo app > dist/app-$(REGION).tar.gz
\t@echo "artifact=dist/app-$(REGION).tar.gz" >> "$$WORKFLOW_OUTPUT"
"""
CHECKOUT_FILES = {
    "Makefile": MAKEFILE,
    "test_app.py": "def test_app():\n    assert 1 + 1 == 2\n",
    "publish.sh": '#!/bin/sh\necho "publishing $TARGET with token $2"\n',
    "unpublish.sh": '#!/bin/sh\necho "unpublishing"\n',
}


def tour_blocks(text: str) -> tuple[list[str], str]:
    """(shell lines of the Quick tour, the YAML document it shows as my-flow.yaml)."""
    section = text.split("## Quick tour", 1)[1].split("\n## ", 1)[0]
    shell = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    yaml_doc = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert shell and yaml_doc, "the Quick tour lost its sh or yaml block"
    return [line for line in shell.group(1).splitlines() if line.strip()], yaml_doc.group(1)


@dataclass
class Tour:
    lines: list[str]
    codes: list[int]
    output: str
    home: Path
    checkout: Path
    instance: str

    def code(self, prefix: str) -> int:
        """The exit code of the tour line that starts with ``prefix``."""
        return next(c for line, c in zip(self.lines, self.codes) if line.startswith(prefix))

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "WORKFLOW_HOME": str(self.home), "NO_COLOR": "1"}
        return subprocess.run([str(CONSOLE_SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory) -> Tour:
    lines, document = tour_blocks(README.read_text(encoding="utf-8"))
    root = tmp_path_factory.mktemp("tour")
    user_home, checkout, logs = root / "user", root / "checkout", root / "error-logs"
    for folder in (user_home, checkout, logs):
        folder.mkdir()
    (user_home / ".publish-token").write_text(TOKEN + "\n")
    (checkout / "my-flow.yaml").write_text(document)
    for name, text in CHECKOUT_FILES.items():
        (checkout / name).write_text(text)
        if name.endswith(".sh"):
            (checkout / name).chmod(0o755)
    codes_file, id_file = root / "codes", root / "id"
    script = []
    for line in lines:  # each line verbatim, then its exit code on a line of its own
        script += [line, f'echo "$?" >> "{codes_file}"']
    script.append(f'echo "$ID" > "{id_file}"')
    env = {k: v for k, v in os.environ.items() if k not in ("WORKFLOW_HOME", "WORKFLOW_CLI_TIME_OFFSET")}
    env.update(HOME=str(user_home), NO_COLOR="1", WORKFLOW_CLI_LOG_DIR=str(logs),
               PATH=f"{CONSOLE_SCRIPT.parent}{os.pathsep}{env.get('PATH', '')}")
    proc = subprocess.run(["/bin/sh", "-c", "\n".join(script)], cwd=checkout, env=env, capture_output=True, text=True,
                          timeout=300)
    codes = [int(c) for c in codes_file.read_text().split()]
    assert len(codes) == len(lines), proc.stderr
    output = proc.stdout + proc.stderr
    assert "Traceback" not in output, output
    return Tour(lines, codes, output, user_home / "flows", checkout, id_file.read_text().strip())


def test_quick_tour_commands_run_as_printed(tour):
    why = "\n".join(f"{c:>3}  {line}" for line, c in zip(tour.lines, tour.codes)) + "\n" + tour.output[-3000:]
    for prefix in ("workflow-cli init", "export", "workflow-cli templates", "workflow-cli validate", "ID=",
                   "workflow-cli status", "workflow-cli logs"):
        assert tour.code(prefix) == 0, f"{prefix}: {why}"
    # the run itself ends as the instance does (0 completed, 1 failed), never as bad input or not found
    assert tour.code("workflow-cli start") in (0, 1), why
    assert tour.code("workflow-cli retry") in (0, 1), why
    assert (tour.home / ".workflow-home").is_file() and re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{6}", tour.instance)
    status = json.loads(tour.cli("status", tour.instance, "--json").stdout)
    assert status["params"] == {"region": "eu", "token": "***"}
    header = (tour.home / "instances" / tour.instance / "instance.json").read_text()
    assert TOKEN not in header and TOKEN not in tour.output


def test_quick_tour_builds_tests_and_publishes_in_the_checkout(tour):
    assert tour.code("workflow-cli start") == 0, tour.output[-3000:]
    assert tour.code("workflow-cli retry") == 0, tour.output[-3000:]
    status = json.loads(tour.cli("status", tour.instance, "--json").stdout)
    assert status["status"] == "completed"
    assert status["tasks"]["build"]["outputs"]["artifact"] == "dist/app-eu.tar.gz"
    log = tour.cli("logs", tour.instance, "publish").stdout
    assert "publishing dist/app-eu.tar.gz with token ***" in log and TOKEN not in log
    assert (tour.checkout / "dist" / "app-eu.tar.gz").is_file()
