"""The bad-input corpus (SPEC 3, 4, 5, 14, 16): every malformed document, parameter set or command line
gets exit code 2 (4 when something named does not exist), a message naming the problem and where it is,
no traceback, and a home left exactly as it was.

Each document and parameter case runs through ``validate --json``, ``validate`` (human) and
``create --json``; ``create`` must not create anything. A representative subset also runs through
the installed console script.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

DIR = object()  # a document "file" that is a folder
UNREADABLE = object()  # a file with mode 000


@dataclass(frozen=True)
class DocCase:
    """A malformed document file: where the problem is (``path``) and a fragment of what it is (``message``)."""

    id: str
    content: Any
    path: str
    message: str
    filename: str = "doc.json"
    code: int = 2


def _doc(**top: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"version": "2.0.0", "name": "bad", "tasks": {"a": {"action": "noop"}}}
    doc.update(top)
    return {k: v for k, v in doc.items() if v is not None}


def _tasks(**tasks: Any) -> dict[str, Any]:
    return _doc(tasks=tasks)


def _yaml(body: str) -> str:
    return 'version: "2.0.0"\nname: bad\n' + body


NOOP = {"action": "noop"}

DOC_CASES = [
    # schema: unknown fields, wrong types, bad enums, missing fields
    DocCase("unknown-top-field", _doc(colour="red"), "colour", "unknown field"),
    DocCase("unknown-task-field", _tasks(a={"action": "noop", "retyr": {"max_attempts": 2}}), "tasks.a.retyr", "retry"),
    DocCase("unknown-retry-field", _tasks(a={"action": "noop", "retry": {"attempts": 2}}), "tasks.a.retry.attempts", "unknown field"),
    DocCase("wrong-type-priority", _tasks(a={"action": "noop", "priority": "high"}), "tasks.a.priority", "integer"),
    DocCase("wrong-type-name", _doc(name=42), "name", "string"),
    DocCase("wrong-type-dependencies", _tasks(a={"action": "noop", "dependencies": "b"}, b=NOOP), "tasks.a.dependencies", "array"),
    DocCase("wrong-type-tasks-list", _doc(tasks=[{"id": "a"}]), "tasks", "object"),
    DocCase("wrong-type-version", _yaml("tasks:\n  a: {action: noop}\n").replace('"2.0.0"', "2.0"), "version", "string", "doc.yaml"),
    DocCase("bad-enum-on-failure", _tasks(a={"action": "noop", "on_failure": "explode"}), "tasks.a.on_failure", "fail"),
    DocCase("bad-enum-execution-mode", _doc(execution_mode="sideways"), "execution_mode", "sequential"),
    DocCase("bad-enum-trigger-rule", _tasks(a={"action": "noop", "trigger_rule": "sometimes"}), "tasks.a.trigger_rule", "all_success"),
    DocCase("bad-param-type-name", _doc(parameters={"p": {"type": "strng"}}), "parameters.p.type", "string"),
    DocCase("max-parallel-zero", _doc(max_parallel=0), "max_parallel", "1"),
    DocCase("negative-timeout", _tasks(a={"action": "noop", "timeout_seconds": -5}), "tasks.a.timeout_seconds", "0"),
    DocCase("retry-zero-attempts", _tasks(a={"action": "noop", "retry": {"max_attempts": 0}}), "tasks.a.retry.max_attempts", "1"),
    DocCase("missing-version", {"name": "x", "tasks": {"a": NOOP}}, "version", "missing"),
    DocCase("missing-name", {"version": "2.0.0", "tasks": {"a": NOOP}}, "name", "missing"),
    DocCase("missing-tasks", {"version": "2.0.0", "name": "x"}, "tasks", "missing"),
    DocCase("empty-tasks", _doc(tasks={}), "tasks", "empty"),
    DocCase("invalid-task-id", _tasks(**{"1a": NOOP}), "tasks.1a", "task id"),
    DocCase("unknown-action", _tasks(a={"action": "comand"}), "tasks.a.action", "command"),
    # duplicate keys, both formats
    DocCase("dup-key-json-top", '{"version": "2.0.0", "name": "x", "name": "y", "tasks": {"a": {"action": "noop"}}}', "name", "duplicate"),
    DocCase("dup-key-json-nested", '{"version": "2.0.0", "name": "x", "tasks": {"a": {"action": "noop", "action": "noop"}}}', "tasks.a.action", "duplicate"),
    DocCase("dup-key-yaml-top", _yaml("tasks:\n  a: {action: noop}\ntasks:\n  b: {action: noop}\n"), "tasks", "duplicate", "doc.yaml"),
    DocCase("dup-key-yaml-nested", _yaml("tasks:\n  a:\n    action: noop\n    action: noop\n"), "tasks.a.action", "duplicate", "doc.yaml"),
    # YAML hazards
    DocCase("yaml-python-object", _yaml('x: !!python/object/apply:os.system ["echo pwned"]\ntasks:\n  a: {action: noop}\n'), "doc.yaml", "tag", "doc.yaml"),
    DocCase("yaml-python-name", 'version: "2.0.0"\nname: !!python/name:os.system\ntasks:\n  a: {action: noop}\n', "doc.yaml", "tag", "doc.yaml"),
    DocCase("yaml-recursive-alias", _yaml("x: &a [*a]\ntasks:\n  a: {action: noop}\n"), "doc.yaml", "recursive", "doc.yaml"),
    DocCase("yaml-two-documents", _yaml("tasks:\n  a: {action: noop}\n---\nb: 1\n"), "doc.yaml", "document", "doc.yaml"),
    DocCase("yaml-non-string-key", _yaml("1: one\ntasks:\n  a: {action: noop}\n"), "1", "not a string", "doc.yaml"),
    DocCase("yaml-date-value", _yaml("date: 2024-01-01\ntasks:\n  a: {action: noop}\n"), "date", "date", "doc.yaml"),
    DocCase("yaml-syntax", "version: [\n", "doc.yaml", "invalid YAML", "doc.yaml"),
    # graph
    DocCase("cycle-2", _tasks(a={"action": "noop", "dependencies": ["b"]}, b={"action": "noop", "dependencies": ["a"]}), "tasks.", "->"),
    DocCase("cycle-3", _tasks(a={"action": "noop", "dependencies": ["c"]}, b={"action": "noop", "dependencies": ["a"]},
                              c={"action": "noop", "dependencies": ["b"]}), "dependencies", "cycle"),
    DocCase("unknown-dependency", _tasks(build=NOOP, a={"action": "noop", "dependencies": ["biuld"]}), "tasks.a.dependencies[0]", "build"),
    DocCase("self-dependency", _tasks(a={"action": "noop", "dependencies": ["a"]}), "tasks.a.dependencies", "itself"),
    DocCase("conditional-without-conditions", _tasks(a={"action": "noop", "execution_mode": "conditional"}), "tasks.a.execution_mode", "condition"),
    DocCase("trigger-rule-never-fires", _tasks(a={"action": "noop", "trigger_rule": "one_success"}), "tasks.a.trigger_rule", "never"),
    DocCase("min-success-too-high", _tasks(a=NOOP, b={"action": "noop", "dependencies": ["a"], "trigger_rule": {"min_success": 3}}),
            "tasks.b.trigger_rule", "never"),
    DocCase("loop-and-foreach", _tasks(a={"action": "noop", "foreach": "[1, 2]", "loop": {"until": "true", "max_iterations": 2}}),
            "tasks.a.loop", "foreach"),
    # expressions
    DocCase("undefined-name-condition", _tasks(a={"action": "noop", "conditions": ["foo > 1"]}), "tasks.a.conditions[0]", "foo"),
    DocCase("undefined-name-foreach", _tasks(a={"action": "noop", "foreach": "items"}), "tasks.a.foreach", "items"),
    DocCase("undefined-name-set-vars", _tasks(a={"action": "noop", "set_vars": {"x": "nothing + 1"}}), "tasks.a.set_vars.x", "nothing"),
    DocCase("unknown-param-in-expression", _tasks(a={"action": "command", "parameters": {"command": "echo {{ params.nope }}"}}),
            "tasks.a.parameters.command", "params.nope"),
    DocCase("unknown-task-in-expression", _tasks(a={"action": "noop", "conditions": ["tasks.nope.status == 'completed'"]}),
            "tasks.a.conditions[0]", "nope"),
    DocCase("unknown-task-field-in-expression", _tasks(a=NOOP, b={"action": "noop", "dependencies": ["a"], "parameters": {"x": "{{ tasks.a.outputz }}"}}),
            "tasks.b.parameters.x", "outputs"),
    DocCase("env-not-allowed", _tasks(a={"action": "command", "parameters": {"command": "echo {{ env.HOME }}"}}),
            "tasks.a.parameters.command", "env_allow"),
    DocCase("expression-syntax", _tasks(a={"action": "command", "parameters": {"command": "echo {{ params. }}"}}),
            "tasks.a.parameters.command", "invalid expression"),
    DocCase("unknown-filter", _doc(parameters={"p": {"type": "string", "default": "x"}},
                                   tasks={"a": {"action": "command", "parameters": {"command": "echo {{ params.p | nosuchfilter }}"}}}),
            "tasks.a.parameters.command", "nosuchfilter"),
    DocCase("unknown-test", _tasks(a={"action": "noop", "conditions": ["1 is nosuchtest"]}), "tasks.a.conditions[0]", "nosuchtest"),
    DocCase("unknown-param-in-name", _doc(name="run {{ params.nope }}"), "name", "params.nope"),
    DocCase("dunder-attribute", _doc(parameters={"p": {"type": "string", "default": "x"}},
                                     tasks={"a": {"action": "command", "parameters": {"command": "echo {{ params.p.__class__ }}"}}}),
            "tasks.a.parameters.command", "__class__"),
    # parameter declarations
    DocCase("default-not-in-enum", _doc(parameters={"p": {"type": "string", "enum": ["a", "b"], "default": "c"}}), "parameters.p.default", "one of"),
    DocCase("default-wrong-type", _doc(parameters={"p": {"type": "integer", "default": "ten"}}), "parameters.p.default", "integer"),
    DocCase("invalid-param-pattern", _doc(parameters={"p": {"type": "string", "pattern": "[a-"}}), "parameters.p.pattern", "regular expression"),
    # versions
    DocCase("future-version", _doc(version="3.0.0"), "version", "3.0.0"),
    DocCase("garbage-version", _doc(version="banana"), "version", "version"),
    DocCase("unknown-old-version", {"version": "1.5.0", "name": "old", "tasks": []}, "version", "1.5.0"),
    DocCase("old-version-unknown-field", {"version": "1.0.0", "name": "old", "tasks": [{"id": "a", "name": "A"}, {"id": "b", "colour": 1}]},
            "tasks[1].colour", "unknown field"),
    # not a document at all
    DocCase("empty-json", "", "doc.json", "empty"),
    DocCase("empty-yaml", "", "doc.yaml", "empty", "doc.yaml"),
    DocCase("whitespace-only", "  \n\t\n", "doc.json", "empty"),
    DocCase("json-syntax", '{"version": ', "doc.json", "invalid JSON"),
    DocCase("top-level-list", "[1, 2]", "doc.json", "mapping"),
    DocCase("top-level-scalar", "hello\n", "doc.yaml", "mapping", "doc.yaml"),
    DocCase("json-nan", '{"version": "2.0.0", "name": "x", "timeout_seconds": NaN, "tasks": {"a": {"action": "noop"}}}', "doc.json", "NaN"),
    DocCase("json-infinity", '{"version": "2.0.0", "name": "x", "timeout_seconds": -Infinity, "tasks": {"a": {"action": "noop"}}}', "doc.json", "Infinity"),
    DocCase("huge-number", '{"version": "2.0.0", "name": "x", "timeout_seconds": 1' + "0" * 40 + ', "tasks": {"a": {"action": "noop"}}}', "doc.json", "too large"),
    DocCase("deep-nesting", '{"version": "2.0.0", "name": "x", "variables": {"v": ' + "[" * 200 + "]" * 200 + '}, "tasks": {"a": {"action": "noop"}}}',
            "variables", "nesting"),
    DocCase("invalid-utf8", b'{"version": "2.0.0", "name": "\xff\xfe"}', "doc.json", "UTF-8"),
    DocCase("directory-as-file", DIR, "doc.json", "folder"),
    DocCase("unreadable-file", UNREADABLE, "doc.json", "permission"),
    DocCase("missing-file", None, "doc.json", "not found", code=4),
]


def _materialise(case: DocCase, folder: Path) -> Path:
    path = folder / case.filename
    if case.content is DIR:
        path.mkdir()
    elif case.content is UNREADABLE:
        path.write_text(json.dumps(_doc()))
        path.chmod(0)
    elif case.content is None:
        pass
    elif isinstance(case.content, bytes):
        path.write_bytes(case.content)
    elif isinstance(case.content, str):
        path.write_text(case.content, encoding="utf-8")
    else:
        path.write_text(json.dumps(case.content), encoding="utf-8")
    return path


@pytest.fixture
def doc_file(request, tmp_path):
    case: DocCase = request.param
    if case.content is UNREADABLE and os.geteuid() == 0:
        pytest.skip("root reads any file; the folder and invalid UTF-8 cases cover unreadable input")
    folder = tmp_path / "docs"
    folder.mkdir()
    return case, _materialise(case, folder)


def _matching(issues: list[dict[str, Any]], path: str, message: str) -> list[dict[str, Any]]:
    message = message.lower()
    return [i for i in issues if path in i["path"] and message in (i["message"] + " " + i.get("hint", "")).lower()]


def assert_error_document(result, case_path: str, message: str, code: int) -> None:
    """``{"error": {...}}`` on stdout: the exit code, and an issue (or the message) naming the problem."""
    error = result.json()["error"]
    assert error["exit_code"] == code
    issues = error.get("issues") or []
    if issues:
        assert _matching(issues, case_path, message), (case_path, message, issues)
    else:
        assert case_path in error["message"] and message.lower() in error["message"].lower(), error


def assert_human_error(result, case_path: str, message: str) -> None:
    """The human diagnostics on stderr name the place and the problem."""
    assert case_path in result.stderr, result
    assert message.lower() in result.stderr.lower(), result


def _instances(home: Path) -> list[str]:
    return sorted(p.name for p in (home / "instances").iterdir())


@pytest.mark.parametrize("doc_file", DOC_CASES, ids=[c.id for c in DOC_CASES], indirect=True)
def test_bad_document(cli, home, doc_file, snapshot_tree):
    case, path = doc_file
    before = snapshot_tree(home)

    checked = cli("validate", path, "--json")
    assert checked.exit_code == case.code, checked
    if case.code == 2:
        report = checked.json()
        assert report["valid"] is False
        assert _matching(report["errors"], case.path, case.message), (case, report["errors"])
    else:
        assert_error_document(checked, case.filename, case.message, case.code)

    human = cli("validate", path)
    assert human.exit_code == case.code
    assert_human_error(human, case.path, case.message)

    created = cli("create", path, "--json")
    assert created.exit_code == case.code, created
    assert_error_document(created, case.path if case.code == 2 else case.filename, case.message, case.code)
    assert_human_error(created, case.path, case.message)

    assert _instances(home) == []
    assert snapshot_tree(home) == before


# ---- parameter sets -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ParamCase:
    """Arguments given to the ``params_demo`` template (see conftest); ``files`` are params files to write first."""

    id: str
    args: tuple[str, ...]
    path: str
    message: str
    files: dict[str, Any] = field(default_factory=dict)
    code: int = 2


TOKEN = ("--param", "token=t")

PARAM_CASES = [
    ParamCase("missing-required", ("--param", "count=1"), "params.token", "missing"),
    ParamCase("unknown-param", (*TOKEN, "--param", "regoin=eu"), "regoin", "region"),
    ParamCase("unknown-param-no-hint", (*TOKEN, "--param", "zzz=1"), "zzz", "unknown parameter"),
    ParamCase("integer-not-a-number", (*TOKEN, "--param", "count=ten"), "count", "integer"),
    ParamCase("integer-is-a-float", (*TOKEN, "--param", "count=1.5"), "count", "integer"),
    ParamCase("number-not-a-number", (*TOKEN, "--param", "ratio=lots"), "ratio", "number"),
    ParamCase("boolean-maybe", (*TOKEN, "--param", "enabled=maybe"), "enabled", "boolean"),
    ParamCase("array-not-json", (*TOKEN, "--param", "items=a,b"), "items", "array"),
    ParamCase("array-given-object", (*TOKEN, "--param", 'items={"a": 1}'), "params.items", "array"),
    ParamCase("object-given-array", (*TOKEN, "--param", "extra=[1]"), "params.extra", "object"),
    ParamCase("bad-enum", (*TOKEN, "--param", "region=mars"), "params.region", "mars"),
    ParamCase("bad-pattern", (*TOKEN, "--param", "code=abc"), "params.code", "pattern"),
    ParamCase("below-minimum", (*TOKEN, "--param", "count=-1"), "params.count", "minimum"),
    ParamCase("above-maximum", (*TOKEN, "--param", "count=11"), "params.count", "maximum"),
    ParamCase("integer-too-large", (*TOKEN, "--param", "count=1" + "0" * 30), "--param count", "too large"),
    ParamCase("integer-python-syntax", (*TOKEN, "--param", "count=1_0"), "--param count", "integer"),
    ParamCase("array-too-deep", (*TOKEN, "--param", "items=" + "[" * 100 + "]" * 100), "--param items", "nesting"),
    ParamCase("array-holding-nan", (*TOKEN, "--param", "items=[NaN]"), "--param items", "NaN"),
    ParamCase("object-duplicate-key", (*TOKEN, "--param", 'extra={"a": 1, "a": 2}'), "--param extra", "duplicate"),
    ParamCase("param-without-equals", (*TOKEN, "--param", "region"), "--param region", "key=value"),
    ParamCase("param-empty-key", (*TOKEN, "--param", "=eu"), "--param =eu", "key=value"),
    ParamCase("several-problems", ("--param", "count=ten", "--param", "region=mars"), "params.token", "missing"),
    ParamCase("params-file-not-mapping", ("--params-file", "{dir}/p.json"), "p.json", "mapping", {"p.json": [1, 2]}),
    ParamCase("params-file-wrong-type", ("--params-file", "{dir}/p.json"), "params.count", "integer", {"p.json": {"token": "t", "count": "ten"}}),
    ParamCase("params-file-unknown-key", ("--params-file", "{dir}/p.json"), "params.colour", "unknown", {"p.json": {"token": "t", "colour": 1}}),
    ParamCase("params-file-dup-key", ("--params-file", "{dir}/p.yaml"), "count", "duplicate", {"p.yaml": "token: t\ncount: 1\ncount: 2\n"}),
    ParamCase("params-file-python-tag", ("--params-file", "{dir}/p.yaml"), "p.yaml", "tag", {"p.yaml": "token: !!python/object/apply:os.getcwd []\n"}),
    ParamCase("params-file-empty", ("--params-file", "{dir}/p.json"), "p.json", "empty", {"p.json": ""}),
    ParamCase("params-file-missing", ("--params-file", "{dir}/none.json"), "none.json", "not found", code=4),
]


@pytest.mark.parametrize("case", PARAM_CASES, ids=[c.id for c in PARAM_CASES])
def test_bad_parameters(cli, home, params_template, tmp_path, case, snapshot_tree):
    folder = tmp_path / "params"
    folder.mkdir()
    for name, content in case.files.items():
        (folder / name).write_text(content if isinstance(content, str) else json.dumps(content))
    args = [a.replace("{dir}", str(folder)) for a in case.args]
    before = snapshot_tree(home)

    checked = cli("validate", params_template, *args, "--json")
    assert checked.exit_code == case.code, checked
    if case.code == 2:
        report = checked.json()
        assert report["valid"] is False
        assert _matching(report["errors"], case.path, case.message), (case, report)
    else:
        assert_error_document(checked, case.path, case.message, case.code)

    created = cli("create", params_template, *args, "--json")
    assert created.exit_code == case.code, created
    assert_error_document(created, case.path, case.message, case.code)
    assert_human_error(created, case.path, case.message)

    planned = cli("run", params_template, "--dry-run", *args)
    assert planned.exit_code == case.code, planned
    assert_human_error(planned, case.path, case.message)

    assert _instances(home) == []
    assert snapshot_tree(home) == before


def test_every_parameter_problem_reported_at_once(cli, params_template):
    result = cli("create", params_template, "--json", "--param", "count=ten", "--param", "region=mars",
                 "--param", "enabled=maybe", "--param", "regoin=x", "--param", "oops")
    assert result.exit_code == 2
    paths = " ".join(i["path"] for i in result.json()["error"]["issues"])
    for fragment in ("count", "region", "enabled", "regoin", "oops", "token"):
        assert fragment in paths, fragment
    assert len([line for line in result.stderr.splitlines() if line.startswith("error")]) >= 6


# ---- command lines ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineCase:
    """A bad command line; ``{id}`` stands for a created instance's id."""

    id: str
    args: tuple[str, ...]
    fragment: str
    code: int = 2


LINE_CASES = [
    LineCase("unknown-template-create", ("create", "no_such_template"), "no_such_template", 4),
    LineCase("unknown-template-near-miss", ("create", "aproval_chain"), "approval_chain", 4),
    LineCase("unknown-template-validate", ("validate", "no_such_template"), "no_such_template", 4),
    LineCase("unknown-template-show", ("templates", "show", "no_such_template"), "no_such_template", 4),
    LineCase("unknown-template-run", ("run", "no_such_template", "--dry-run"), "no_such_template", 4),
    LineCase("unknown-graph-source", ("graph", "no_such_thing"), "no_such_thing", 4),
    LineCase("unknown-instance-status", ("status", "19990101-000000-000000"), "19990101-000000-000000", 4),
    LineCase("unknown-instance-graph", ("graph", "19990101-000000"), "19990101-000000", 4),
    LineCase("missing-document-file", ("validate", "./no/such/file.json"), "file.json", 4),
    LineCase("ambiguous-prefix", ("status", "{prefix}"), "{prefix}"),
    LineCase("instance-id-escape", ("status", "../etc"), "../etc"),
    LineCase("empty-source", ("create", ""), "template"),
    LineCase("bad-list-status", ("list", "--status", "finished"), "--status"),
    LineCase("bad-list-sort", ("list", "--sort", "size"), "--sort"),
    LineCase("negative-limit", ("list", "--limit", "-1"), "--limit"),
    LineCase("non-integer-limit", ("list", "--limit", "many"), "--limit"),
    LineCase("bad-graph-format", ("graph", "approval_chain", "--format", "png"), "--format"),
    LineCase("unknown-schema", ("schema", "--name", "nope"), "nope"),
    LineCase("unknown-command", ("frobnicate",), "frobnicate"),
    LineCase("unknown-option", ("list", "--colour"), "--colour"),
    LineCase("missing-argument", ("status",), "ID"),
    LineCase("param-option-without-value", ("create", "approval_chain", "--param"), "--param"),
]


@pytest.fixture
def two_instances(cli, write):
    doc = {"version": "2.0.0", "name": "two", "tasks": {"a": {"action": "noop"}}}
    src = write("two.json", doc)
    return [cli("create", src, "-q").stdout.strip() for _ in range(2)]


@pytest.mark.parametrize("case", LINE_CASES, ids=[c.id for c in LINE_CASES])
def test_bad_command_line(cli, home, two_instances, case, snapshot_tree):
    prefix = os.path.commonprefix(two_instances)[:6]
    args = [a.replace("{prefix}", prefix) for a in case.args]
    before = snapshot_tree(home)
    result = cli(*args)
    assert result.exit_code == case.code, result
    assert case.fragment.replace("{prefix}", prefix) in result.stderr, result
    assert snapshot_tree(home) == before


def test_render_error_at_create_names_its_path(cli, home, write, snapshot_tree):
    """Valid statically, but these values make the template fail: create says where, and writes nothing."""
    doc = _doc(parameters={"d": {"type": "integer", "default": 0}},
               tasks={"a": {"action": "command", "parameters": {"command": "echo {{ 100 / params.d }}"}}})
    path = write("divide.json", doc)
    before = snapshot_tree(home)
    result = cli("create", path, "--json")
    assert result.exit_code == 2, result
    assert_error_document(result, "tasks.a.parameters.command", "division", 2)
    assert snapshot_tree(home) == before
    assert cli("create", path, "--param", "d=4", "-q").exit_code == 0
    assert len(_instances(home)) == 1


def test_init_where_no_folder_can_be(cli, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for target in (blocker, blocker / "home"):
        result = cli.raw("init", target)
        assert result.exit_code == 2, result
        assert str(blocker) in result.stderr
    assert blocker.read_text() == "not a folder"


def test_shared_home_is_refused(cli, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    for args in (("init", shared), ("--home", shared, "list"), ("--home", shared, "templates"),
                 ("--home", shared, "create", "conditional_workflow"), ("--home", shared, "run", "conditional_workflow", "--dry-run"),
                 ("--home", shared, "validate", "conditional_workflow")):
        result = cli.raw(*args)
        assert result.exit_code == 2, result
        assert str(shared) in result.stderr
    assert list(shared.iterdir()) == []


def test_broken_home_template(cli, home, home_template, snapshot_tree):
    home_template("broken.yaml", "tasks: [\n")
    home_template("misshapen.json", {"version": "2.0.0", "name": "m", "parameters": {"a": 5}, "tasks": {"a": 5}})
    before = snapshot_tree(home)
    listing = cli("templates", "--json")
    assert listing.exit_code == 0, listing
    rows = {row["name"]: row for row in listing.json()}
    assert rows["broken"].get("error")
    assert cli("templates").exit_code == 0, "one broken template does not break the listing"
    for name, where in (("broken", "broken.yaml"), ("misshapen", "tasks.a")):
        for args in (("templates", "show", name), ("graph", name), ("validate", name), ("create", name)):
            result = cli(*args)
            assert result.exit_code == 2, result
            assert where in result.stderr, result
    assert snapshot_tree(home) == before


def test_yaml_alias_bomb_is_refused(cli, home, write, snapshot_tree):
    lines = ['version: "2.0.0"', "name: bomb", "a0: &a0 [" + ", ".join(["lol"] * 9) + "]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    path = write("bomb.yaml", "\n".join(lines) + "\ntasks:\n  a: {action: noop}\n")
    before = snapshot_tree(home)
    result = cli("validate", path, "--json")
    assert result.exit_code == 2
    assert result.json()["valid"] is False
    assert snapshot_tree(home) == before


def test_old_schema_version(cli, home, write, snapshot_tree):
    """A 1.x document is migrated in memory with a note (SPEC 11), or refused with a clear message at 'version'."""
    path = write("old.json", {"version": "1.0.0", "name": "old", "tasks": [{"id": "a", "name": "A", "agent": "builtin.recorder"}]})
    before = snapshot_tree(home)
    result = cli("validate", path, "--json")
    report = result.json()
    if result.exit_code == 0:
        assert any("migrat" in note.lower() for note in report.get("notes", [])), report
    else:
        assert result.exit_code == 2
        assert any(e["path"] == "version" and "1.0.0" in e["message"] for e in report["errors"]), report
    assert snapshot_tree(home) == before


# ---- through the console script -----------------------------------------------------------------

SUBPROCESS_DOC_CASES = ["unknown-task-field", "dup-key-json-nested", "dup-key-yaml-nested", "yaml-python-object", "cycle-3",
                        "unknown-dependency", "undefined-name-condition", "future-version", "invalid-utf8", "empty-json"]


@pytest.mark.parametrize("case", [c for c in DOC_CASES if c.id in SUBPROCESS_DOC_CASES], ids=lambda c: c.id)
def test_bad_document_console_script(sh, home, tmp_path, case, snapshot_tree):
    folder = tmp_path / "docs"
    folder.mkdir()
    path = _materialise(case, folder)
    before = snapshot_tree(home)
    result = sh("create", path, "--json")
    assert result.exit_code == case.code, result
    assert_error_document(result, case.path, case.message, case.code)
    assert_human_error(result, case.path, case.message)
    assert snapshot_tree(home) == before


def test_bad_parameters_console_script(sh, home, params_template, snapshot_tree):
    before = snapshot_tree(home)
    result = sh("create", params_template, "--param", "count=ten", "--param", "nope")
    assert result.exit_code == 2, result
    assert "count" in result.stderr and "--param nope" in result.stderr and "params.token" in result.stderr
    assert result.stdout == ""
    assert snapshot_tree(home) == before


def test_bad_command_lines_console_script(sh, home, snapshot_tree):
    before = snapshot_tree(home)
    missing = sh("status", "19990101-000000")
    assert missing.exit_code == 4 and "19990101-000000" in missing.stderr
    unknown = sh("validate", "no_such_template", "--json")
    assert unknown.exit_code == 4 and "no_such_template" in unknown.stderr
    usage = sh("list", "--status", "finished")
    assert usage.exit_code == 2 and "--status" in usage.stderr
    assert snapshot_tree(home) == before


# ---- property: validate never raises ------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)

TASK_KEYS = ["name", "action", "agent_id", "parameters", "dependencies", "conditions", "trigger_rule", "execution_mode",
             "priority", "timeout_seconds", "retry_count", "retry", "on_failure", "compensate", "foreach", "loop", "set_vars",
             "cache", "checkpoint", "on_interrupt", "outputs", "colour"]
TOP_KEYS = ["description", "parameters", "variables", "defaults", "execution_mode", "max_parallel", "timeout_seconds",
            "on_failure", "hooks", "agents", "schedule", "env_allow", "tags", "colour"]
task_ids = st.sampled_from(["a", "b", "c", "1x", ""])
expressions = st.sampled_from(["params.x", "{{ tasks.a.outputs }}", "tasks.b.status == 'completed'", "nope", "{{", "{{ 1/0 }}",
                               "{{ ''.__class__ }}", "[1, 2]", "item", "{% for %}"])
field_values = json_values | expressions | st.lists(task_ids | expressions, max_size=3)
tasks_strategy = st.dictionaries(task_ids, st.dictionaries(st.sampled_from(TASK_KEYS), field_values, max_size=4), min_size=1, max_size=3)
documents = st.fixed_dictionaries(
    {"version": st.sampled_from(["2.0.0", "1.0.0", "3.0.0", "2"]), "name": st.text(max_size=5), "tasks": tasks_strategy},
    optional={key: json_values for key in TOP_KEYS},
)

_PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _validate_value(cli, folder: Path, value: Any) -> None:
    path = folder / "value.json"
    try:
        text = json.dumps(value)
    except (ValueError, TypeError):
        return
    path.write_text(text)
    result = cli("validate", path, "--json")  # the fixture fails on any exception or traceback
    assert result.exit_code in (0, 2), result
    report = result.json()
    assert report["valid"] is (result.exit_code == 0)
    for error in report["errors"]:
        assert isinstance(error["path"], str) and error["message"]


@_PROPERTY_SETTINGS
@given(value=json_values)
def test_validate_never_raises_on_any_json(cli, tmp_path, value):
    _validate_value(cli, tmp_path, value)


@_PROPERTY_SETTINGS
@given(value=documents)
def test_validate_never_raises_on_document_shaped_json(cli, tmp_path, value):
    _validate_value(cli, tmp_path, value)


@pytest.mark.parametrize(("argv", "message"), [
    (["status"], "Missing argument 'ID'."),
    (["list", "--limit", "abc"], "Invalid value for '--limit': 'abc' is not a valid integer."),
    (["nosuchcmd"], "No such command 'nosuchcmd'."),
    (["graph", "x", "--format", "bogus"], "Invalid value for '--format'"),
])
def test_usage_errors_with_json_print_the_error_document(sh, argv: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    """SPEC 8: with --json every error is one JSON document on stdout, usage errors (click's) too."""
    result = sh("--json", *argv)
    assert result.exit_code == 2
    assert result.json()["error"]["exit_code"] == 2 and result.json()["error"]["message"].startswith(message)
    assert "Usage: workflow-cli" in result.stderr and message in result.stderr  # the human text stays on stderr
    assert sh(*argv).stdout == ""  # without --json: nothing on stdout, as before


def test_validate_reports_dependency_problems_beside_schema_errors(sh, write) -> None:  # type: ignore[no-untyped-def]
    """A typo in a field does not hide an unknown dependency or a self-dependency (one validate, all of them)."""
    doc = write("v.json", {"version": "2.0.0", "name": "v", "tasks": {
        "a": {"action": "noop", "dependencies": ["zz"], "colour": "red"},
        "b": {"action": "noop", "dependencies": ["b"]}}})
    result = sh("--json", "validate", doc)
    assert result.exit_code == 2
    assert result.json()["valid"] is False
    paths = {i["path"] for i in result.json()["errors"]}
    assert {"tasks.a.colour", "tasks.a.dependencies[0]", "tasks.b.dependencies[0]"} <= paths


def test_create_refuses_a_broken_config_as_run_does(sh, home, write) -> None:  # type: ignore[no-untyped-def]
    """A misspelt config.yaml key: `create` is exit 2 with nothing made, as `run` is (no instance that no
    `start` could ever run)."""
    (home / "config.yaml").write_text("max_paralel: 2\n")
    doc = write("one.json", {"version": "2.0.0", "name": "one", "tasks": {"a": {"action": "noop"}}})
    for verb in ("create", "run"):
        result = sh(verb, doc)
        assert result.exit_code == 2 and "max_paralel: unknown field" in result.stderr, result
    assert sh("--json", "list").json() == []
