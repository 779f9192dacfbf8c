"""A third-party action installed as a distribution with a ``workflow_cli.actions`` entry point (SPEC 6.4)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PYPROJECT = """\
[build-system]
requires = []
build-backend = "shout_backend"
backend-path = ["."]

[project]
name = "wf-shout"
version = "0.1.0"
description = "A workflow-cli plugin action that shouts."

[project.entry-points."workflow_cli.actions"]
shout = "wf_shout:ShoutAction"
"""

# A minimal in-tree PEP 517 backend, so that building needs nothing beyond pip and the standard library
# (the test environment's setuptools may be too old to build a wheel without the 'wheel' package). It
# packs the module and the [project] metadata of pyproject.toml, entry points included, into a wheel.
BACKEND = '''\
import base64, hashlib, pathlib, tomllib, zipfile

MODULE = "wf_shout.py"


def _project():
    return tomllib.loads(pathlib.Path("pyproject.toml").read_text(encoding="utf-8"))["project"]


def _files(project):
    dist = f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    entry_points = "".join(
        f"[{group}]\\n" + "".join(f"{name} = {target}\\n" for name, target in items.items()) + "\\n"
        for group, items in project.get("entry-points", {}).items())
    return {
        MODULE: pathlib.Path(MODULE).read_bytes(),
        f"{dist}/METADATA": f"Metadata-Version: 2.1\\nName: {project['name']}\\nVersion: {project['version']}\\n".encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\\nGenerator: shout_backend\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
        f"{dist}/entry_points.txt": entry_points.encode(),
    }, dist


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    project = _project()
    files, dist = _files(project)
    name = f"{project['name'].replace('-', '_')}-{project['version']}-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(pathlib.Path(wheel_directory) / name, "w") as wheel:
        for path, data in files.items():
            wheel.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{path},sha256={digest},{len(data)}")
        record.append(f"{dist}/RECORD,,")
        wheel.writestr(f"{dist}/RECORD", "\\n".join(record) + "\\n")
    return name
'''

MODULE = '''\
"""A plugin action that upper-cases its text."""

from workflow_cli.actions.base import ActionResult
from workflow_cli.errors import Issue


class ShoutAction:
    name = "shout"
    shell_fields = ()
    inline = True

    def run(self, ctx):
        ctx.log("shouting")
        return ActionResult.success({"text": str(ctx.parameters.get("text", "")).upper()})

    def validate(self, parameters, path):
        if "text" not in parameters:
            return [Issue(path, "shout needs 'text'")]
        return []
'''

DOC = """\
version: "2.0.0"
name: Plugin user
parameters:
  word: {type: string, default: hello}
tasks:
  loud:
    action: shout
    parameters:
      text: "{{ params.word }} world"
  after:
    action: condition_check
    dependencies: [loud]
    parameters:
      expression: tasks.loud.outputs.text
"""


@pytest.fixture
def plugin_site(tmp_path: Path) -> Path:
    """The plugin built and installed with pip into a private folder (not the test's environment)."""
    pytest.importorskip("tomllib")  # the in-tree build backend reads pyproject.toml with it (Python 3.11+)
    src = tmp_path / "wf-shout"
    src.mkdir()
    (src / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    (src / "wf_shout.py").write_text(MODULE, encoding="utf-8")
    (src / "shout_backend.py").write_text(BACKEND, encoding="utf-8")
    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                           "--no-index", "--disable-pip-version-check", "--target", str(site), str(src)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert list(site.glob("wf_shout-*.dist-info/entry_points.txt")), sorted(p.name for p in site.iterdir())
    return site


def test_a_plugin_action_runs_when_its_distribution_is_on_the_path(wf, doc, plugin_site):
    document = doc("plugin.yaml", DOC)
    pythonpath = os.pathsep.join(p for p in (str(plugin_site), os.environ.get("PYTHONPATH", "")) if p)
    run = wf("--json", "run", document, "--param", "word=hey", env={"PYTHONPATH": pythonpath})
    assert run.code == 0, run.why
    final = run.json()
    assert final["status"] == "completed"
    assert final["tasks"]["loud"]["outputs"] == {"text": "HEY WORLD"}
    assert final["tasks"]["after"]["outputs"]["result"] == "HEY WORLD"
    assert "shouting" in wf.log(final["id"], "loud")

    valid = wf("--json", "validate", document, env={"PYTHONPATH": pythonpath})
    assert valid.code == 0, valid.why
    assert valid.json()["valid"] is True


def test_without_the_plugin_the_document_is_invalid(wf, doc):
    document = doc("plugin.yaml", DOC)
    run = wf("--json", "run", document)
    assert run.code == 2, run.why
    assert "shout" in run.stdout + run.stderr
    assert wf.instance_ids() == []
    checked = wf("--json", "validate", document)
    assert checked.code == 2, checked.why
    errors = checked.json()["errors"]
    assert any("shout" in e["message"] and e["path"].startswith("tasks.loud") for e in errors), errors
