"""``create``: output forms, parameter precedence and coercion, secrets, values that stay data (SPEC 4, 8, 14)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import yaml

SECRET = "s3cr3t-V4lue-xyz"


def _instance_dir(cli, instance_id):
    return cli.home / "instances" / instance_id


def test_create_prints_id_last(cli, small_doc, write):
    result = cli("create", write("small.json", small_doc()))
    assert result.exit_code == 0, result
    instance_id = result.stdout.strip().splitlines()[-1]
    assert _instance_dir(cli, instance_id).is_dir()
    status = cli("status", instance_id, "--json").json()
    assert status["status"] == "created"


def test_create_quiet_prints_only_id(cli, small_doc, write):
    result = cli("create", write("small.json", small_doc()), "--quiet")
    assert result.exit_code == 0, result
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert _instance_dir(cli, lines[0]).is_dir()
    assert result.stderr == ""


def test_create_json_shape(cli):
    result = cli("create", "conditional_workflow", "--json")
    assert result.exit_code == 0, result
    doc = result.json()
    assert {"id", "status", "template", "params"} <= set(doc)
    assert doc["status"] == "created"
    assert doc["template"] == "conditional_workflow"
    assert doc["params"]["assessment_agent"] == "builtin.assessor"
    assert _instance_dir(cli, doc["id"]).is_dir()


def test_create_name_option(cli, small_doc, write):
    doc = cli("create", write("small.json", small_doc()), "--name", "nightly run", "--json").json()
    assert cli("status", doc["id"], "--json").json()["name"] == "nightly run"


def test_create_console_script(sh):
    result = sh("create", "approval_chain", "--param", "level1_approver=ann", "--param", "level2_approver=bob",
                "--param", "request_title=New laptop")
    assert result.exit_code == 0, result
    instance_id = result.stdout.strip().splitlines()[-1]
    status = sh("status", instance_id, "--json").json()
    assert status["params"]["request_title"] == "New laptop"
    assert status["status"] == "created"


def test_param_precedence(cli, params_template, write):
    params_file = write("params.yaml", yaml.safe_dump({"region": "us", "count": 4, "token": "from-file"}))
    doc = cli("create", params_template, "--params-file", params_file, "--param", "count=7", "--json").json()
    params = cli("status", doc["id"], "--json").json()["params"]
    assert params["region"] == "us"  # file beats default
    assert params["count"] == 7  # --param beats file
    assert params["code"] == "AB-1"  # default
    assert params["token"] == "***"


def test_params_file_json(cli, params_template, write):
    params_file = write("params.json", {"token": "x", "items": [1, 2], "enabled": True})
    doc = cli("create", params_template, "--params-file", params_file, "--json")
    assert doc.exit_code == 0, doc
    assert doc.json()["params"]["items"] == [1, 2]
    assert doc.json()["params"]["enabled"] is True


def test_param_type_coercion(cli, params_template):
    doc = cli("create", params_template, "--json",
              "--param", "token=t", "--param", "count=3", "--param", "ratio=2.5",
              "--param", "enabled=yes", "--param", 'items=["a", 2, true]', "--param", 'extra={"k": [1]}',
              "--param", "code=ZZ-42").json()
    params = doc["params"]
    assert params["count"] == 3 and isinstance(params["count"], int)
    assert params["ratio"] == 2.5
    assert params["enabled"] is True
    assert params["items"] == ["a", 2, True]
    assert params["extra"] == {"k": [1]}
    assert params["code"] == "ZZ-42"
    off = cli("create", params_template, "--json", "--param", "token=t", "--param", "enabled=no").json()
    assert off["params"]["enabled"] is False
    # a value may hold '='; the first one splits key from value
    eq = cli("create", params_template, "--json", "--param", "token=a=b=c").json()
    assert eq["id"]
    assert _secrets(_instance_dir(cli, eq["id"]))["token"] == "a=b=c"


def _secrets(folder: Path) -> dict:
    """The decrypted secret values of an instance folder."""
    from workflow_cli.store.instances import InstancePaths, read_secrets

    return read_secrets(InstancePaths(folder))


def test_secret_parameter_is_masked_everywhere(cli, params_template):
    created = cli("create", params_template, "--param", f"token={SECRET}", "--json")
    assert created.exit_code == 0, created
    assert SECRET not in created.stdout + created.stderr
    doc = created.json()
    assert doc["params"]["token"] == "***"
    folder = _instance_dir(cli, doc["id"])

    status = cli("status", doc["id"], "--json")
    assert status.json()["params"]["token"] == "***"
    assert SECRET not in status.stdout + status.stderr
    human = cli("status", doc["id"])
    assert SECRET not in human.stdout + human.stderr

    header = json.loads((folder / "instance.json").read_text())
    assert header["params"]["token"] == "***"

    secrets = folder / "secrets.json"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    assert _secrets(folder) == {"token": SECRET}  # encrypted at rest (tests/store/test_secret_box.py)

    holders = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert holders == []
    others = [p for p in (cli.home).rglob("*") if p.is_file() and p.parent != folder and SECRET.encode() in p.read_bytes()]
    assert others == []


def test_secret_hidden_in_dry_run_and_listing(cli, params_template):
    plan = cli("run", params_template, "--dry-run", "--param", f"token={SECRET}", "--json")
    assert plan.exit_code == 0, plan
    assert SECRET not in plan.stdout + plan.stderr
    assert plan.json()["params"]["token"] == "***"
    cli("create", params_template, "--param", f"token={SECRET}", "-q")
    listing = cli("list", "--json")
    assert SECRET not in listing.stdout


def test_secret_console_script(sh, params_template):
    result = sh("create", params_template, "--param", f"token={SECRET}", "--json")
    assert result.exit_code == 0, result
    assert result.json()["params"]["token"] == "***"
    assert SECRET not in result.stdout + result.stderr
    folder = sh.home / "instances" / result.json()["id"]
    holders = [p.name for p in folder.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert holders == []
    assert _secrets(folder) == {"token": SECRET}


def test_param_value_with_expression_stays_data(cli, echo_template):
    created = cli("create", echo_template, "--param", "who={{ 7*7 }}", "--json")
    assert created.exit_code == 0, created
    assert created.json()["params"]["who"] == "{{ 7*7 }}"
    folder = _instance_dir(cli, created.json()["id"])
    workflow = (folder / "workflow.json").read_text()
    assert "49" not in workflow
    header = json.loads((folder / "instance.json").read_text())
    assert header["params"]["who"] == "{{ 7*7 }}"
    plan = cli("run", echo_template, "--dry-run", "--param", "who={{ 7*7 }}", "--json")
    assert "49" not in plan.stdout
    assert "{{ 7*7 }}" in plan.stdout


def test_param_value_with_expression_stays_data_after_run(sh, echo_template):
    result = sh("run", echo_template, "--param", "who={{ 7*7 }}", "--json")
    assert result.exit_code == 0, result
    status = result.json()
    assert status["status"] == "completed"
    assert status["tasks"]["greet"]["outputs"] == {"greeting": "{{ 7*7 }}"}
    logs = sh("logs", status["id"], "greet")
    assert "said {{ 7*7 }}" in logs.stdout
    assert "said 49" not in logs.stdout
    folder = sh.home / "instances" / status["id"]
    assert "49" not in (folder / "workflow.json").read_text()


def test_template_edit_after_create_does_not_change_instance(cli, home_template, small_doc):
    path = home_template("editable.json", small_doc(name="Before"))
    instance_id = cli("create", "editable", "-q").stdout.strip()
    folder = _instance_dir(cli, instance_id)
    stored = (folder / "workflow.json").read_bytes()

    edited = small_doc(name="After")
    edited["tasks"]["third"] = {"action": "noop", "dependencies": ["second"]}
    path.write_text(json.dumps(edited))

    assert (folder / "workflow.json").read_bytes() == stored
    status = cli("status", instance_id, "--json").json()
    assert status["name"] == "Before"
    assert set(status["tasks"]) == {"first", "second"}
    graph = cli("graph", instance_id, "--format", "json").json()
    assert {n["id"] for n in graph["nodes"]} == {"first", "second"}
    assert {n["id"] for n in cli("graph", "editable", "--format", "json").json()["nodes"]} == {"first", "second", "third"}


def test_params_resolved_into_instance_document(cli, home_template):
    home_template("resolved.yaml", """\
version: "2.0.0"
name: Resolved
parameters:
  region: {type: string, default: eu}
tasks:
  t:
    action: command
    parameters:
      command: "echo {{ params.region }}"
""")
    instance_id = cli("create", "resolved", "--param", "region=us", "-q").stdout.strip()
    doc = json.loads((_instance_dir(cli, instance_id) / "workflow.json").read_text())
    assert "params.region" not in doc["tasks"]["t"]["parameters"]["command"]
    assert "us" in doc["tasks"]["t"]["parameters"]["command"]


SECRET_ECHO_TEMPLATE = """\
version: "2.0.0"
name: Secret echo
parameters:
  token: {type: string, secret: true, required: true}
tasks:
  use:
    action: command
    parameters:
      command: "echo token={{ params.token }}; echo out={{ params.token }} > \\"$WORKFLOW_OUTPUT\\""
"""


def test_secret_printed_by_a_task_is_masked_in_every_file(cli, home_template):
    home_template("secret_echo.yaml", SECRET_ECHO_TEMPLATE)
    result = cli("run", "secret_echo", "--param", f"token={SECRET}", "--json")
    assert result.exit_code == 0, result
    assert SECRET not in result.stdout + result.stderr
    status = result.json()
    assert status["tasks"]["use"]["outputs"] == {"out": "***"}
    logs = cli("logs", status["id"], "use")
    assert "token=***" in logs.stdout and SECRET not in logs.stdout
    holders = sorted(p.relative_to(cli.home).as_posix() for p in cli.home.rglob("*")
                     if p.is_file() and SECRET.encode() in p.read_bytes())
    assert holders == []
