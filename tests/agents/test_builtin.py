"""The built-in agents: deterministic, real work on their payload."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from workflow_cli.agents import builtin, builtin_data
from workflow_cli.agents.builtin import AgentFailure, digest


def payload(tmp_path: Path | None = None, **parameters: Any) -> dict[str, Any]:
    return {"instance_id": "i1", "task_id": "t1", "name": "Task one", "parameters": parameters, "attempt": 1,
            "idempotency_key": "i1:t1", "dependencies": {}, "workspace": str(tmp_path) if tmp_path else None}


def test_splitter_keeps_order_and_balances():
    out = builtin.split_text(payload(data="a b c d e f g", partitions=3))
    assert out["partitions"] == ["a b c", "d e", "f g"]
    assert out["sizes"] == [3, 2, 2] and out["total"] == 7
    assert builtin.split_text(payload(data="one", partitions=3))["partitions"] == ["one", "", ""]
    assert builtin.split_text(payload(data=[1, 2, 3, 4], partitions="2"))["partitions"] == [[1, 2], [3, 4]]
    with pytest.raises(AgentFailure):
        builtin.split_text(payload(data="x", partitions=0))


def test_worker_counts_transforms_and_checksums():
    out = builtin.process_text(payload(data="Hello hello world", partition=2))
    assert out == {"partition": 2, "words": 3, "chars": 17, "unique_words": 2, "transform": "upper",
                   "result": "HELLO HELLO WORLD", "checksum": digest("HELLO HELLO WORLD")}
    assert builtin.process_text(payload(data="a b", transform="reverse"))["result"] == "b a"
    with pytest.raises(AgentFailure, match="transform"):
        builtin.process_text(payload(data="a", transform="rot13"))


def test_checker_scores_worker_output():
    good = builtin.process_text(payload(data="alpha beta"))
    assert builtin.check_quality(payload(data=good, partition=1)) == {
        "partition": 1, "score": 100, "passed": True, "threshold": 50, "issues": []}
    tampered = {**good, "result": "ALPHA GAMMA DELTA"}
    out = builtin.check_quality(payload(data=tampered))
    assert out["score"] == 30 and out["passed"] is False and len(out["issues"]) == 2
    assert builtin.check_quality(payload(data=tampered, threshold=20))["passed"] is True
    empty = builtin.process_text(payload(data=""))
    assert builtin.check_quality(payload(data=empty))["score"] == 70


def test_aggregator_combines_results_and_summarises_fields():
    results = [builtin.process_text(payload(data=t, partition=i + 1)) for i, t in enumerate(["a b", "c", "d e f"])]
    checks = [builtin.check_quality(payload(data=r)) for r in results]
    out = builtin.aggregate(payload(results=results, checks=checks))
    assert (out["count"], out["total_words"], out["total_chars"]) == (3, 6, 9)
    assert [p["partition"] for p in out["partitions"]] == [1, 2, 3]
    assert out["checksum"] == digest("".join(r["checksum"] for r in results))
    assert out["average_score"] == 100 and out["all_passed"] is True
    report = builtin.aggregate(payload(priority="high", score=60, path="urgent"))
    assert report["summary"] == "path=urgent; priority=high; score=60" and report["count"] == 0


@pytest.mark.parametrize(
    ("text", "priority", "score"),
    [
        ("URGENT: the site is slow", "high", 50),
        ("Customer reports that the checkout page is down for all users", "high", 60),
        ("Security review please", "high", 50),
        ("Please update the README when you can", "normal", 0),
        ("an error in a report", "normal", 10),
    ],
)
def test_assessor(text, priority, score):
    out = builtin.assess(payload(data=text))
    assert (out["priority"], out["score"]) == (priority, score)
    assert out["reasons"]


def test_notifier_builds_a_deterministic_message():
    first = builtin.notify(payload(subject="Request 'x': approved", decision="approved"))
    again = builtin.notify(payload(subject="Request 'x': approved", decision="approved"))
    assert first == again and first["delivered"] is True
    assert first["message"]["subject"] == "Request 'x': approved" and "decision: approved" in first["message"]["body"]
    assert builtin.notify(payload(priority="high"))["message"]["subject"] == "Task one: high"


def test_recorder_appends_once_per_identical_entry(tmp_path):
    p = payload(tmp_path, event="decided", decision="approved")
    out = builtin.record(p)
    assert out["recorded"] and out["line"] == 1 and out["record"]["data"] == {"decision": "approved"}
    assert builtin.record(p)["line"] == 1  # the same attempt delivered twice is recorded once
    builtin.record(payload(tmp_path, event="decided", decision="rejected"))
    lines = [json.loads(line) for line in (tmp_path / "decisions.jsonl").read_text().splitlines()]
    assert [line["data"]["decision"] for line in lines] == ["approved", "rejected"]
    with pytest.raises(AgentFailure):
        builtin.record(payload(None, event="x"))


def test_extractor_sample_is_deterministic_and_named_after_the_source(tmp_path):
    first = builtin_data.extract(payload(tmp_path, source="customers.csv"))
    assert first == builtin_data.extract(payload(tmp_path, source="customers.csv"))
    assert first["origin"] == "sample" and 5 <= first["count"] <= 8
    assert "customers item 1" in first["records"][0]["Name"]
    assert builtin_data.extract(payload(tmp_path, source="orders"))["records"] != first["records"]


def test_extractor_reads_workspace_files_and_inline_data(tmp_path):
    (tmp_path / "people.csv").write_text("Name,Age\n Ann ,31\nBob,42\n")
    (tmp_path / "items.json").write_text('{"records": [{"a": 1}, {"a": 2}]}')
    (tmp_path / "notes.txt").write_text("first\n\nsecond\n")
    assert builtin_data.extract(payload(tmp_path, source="people.csv"))["records"] == [
        {"Name": " Ann ", "Age": "31"}, {"Name": "Bob", "Age": "42"}]
    assert builtin_data.extract(payload(tmp_path, source="items.json"))["count"] == 2
    assert builtin_data.extract(payload(tmp_path, source="notes.txt"))["records"][1] == {"line": 3, "text": "second"}
    inline = builtin_data.extract(payload(tmp_path, source='[{"x": 1}]'))
    assert inline["origin"] == "inline" and inline["records"] == [{"x": 1}]
    assert builtin_data.extract(payload(tmp_path, source="a,b\n1,2"))["records"] == [{"a": "1", "b": "2"}]


def test_extractor_refuses_paths_outside_the_workspace(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (tmp_path / "secret.csv").write_text("a\n1\n")
    (ws / "link.csv").symlink_to(tmp_path / "secret.csv")
    for source in ("../secret.csv", str(tmp_path / "secret.csv"), "link.csv"):
        with pytest.raises(AgentFailure, match="outside"):
            builtin_data.extract(payload(ws, source=source))


def test_transformer_normalises_and_validator_checks(tmp_path):
    extracted = builtin_data.extract(payload(tmp_path, source="Name , Amount\n  Ann , 12.50\nBob,7"))
    out = builtin_data.transform(payload(data=extracted))
    assert [{k: r[k] for k in ("name", "amount", "row")} for r in out["records"]] == [
        {"name": "Ann", "amount": 12.5, "row": 1}, {"name": "Bob", "amount": 7, "row": 2}]
    assert all(len(r["fingerprint"]) == 12 for r in out["records"]) and out["count"] == 2
    assert builtin_data.validate(payload(data=out)) == {"valid": True, "count": 2, "checked": 2, "fields": out["fields"]}
    with pytest.raises(AgentFailure, match="no records"):
        builtin_data.validate(payload(data={"records": []}))
    with pytest.raises(AgentFailure, match="count says 5"):
        builtin_data.validate(payload(data={"records": [{"a": 1}], "count": 5}))
    with pytest.raises(AgentFailure, match="lacks email"):
        builtin_data.validate(payload(data=out, required_fields=["email"]))
    with pytest.raises(AgentFailure, match="list of records"):
        builtin_data.transform(payload(data="nope"))
