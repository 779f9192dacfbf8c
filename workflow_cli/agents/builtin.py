"""The built-in agents: small, deterministic, real work on the payload they are handed (SPEC 6.3, 13).

Each is ``fn(payload) -> dict`` and reads ``payload["parameters"]``; :class:`AgentFailure` ends the task
with its message. The data agents of the ETL pipeline (extractor, transformer, validator) live in
:mod:`workflow_cli.agents.builtin_data`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from collections.abc import Mapping
from typing import Any, Callable

from workflow_cli.agents.registry import AgentSpec

_DATA = "workflow_cli.agents.builtin_data"
_HERE = "workflow_cli.agents.builtin"


class AgentFailure(Exception):
    """A built-in agent refuses its input; the message becomes the task's error."""


def params_of(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    """The task parameters inside a payload ({} when absent)."""
    value = payload.get("parameters")
    return value if isinstance(value, Mapping) else {}


def as_text(value: Any) -> str:
    """A value as text: lists joined by spaces, mappings as sorted JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return " ".join(as_text(v) for v in value)
    if isinstance(value, Mapping):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def digest(text: str) -> str:
    """A short content checksum: the first 16 hex digits of SHA-256."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def number(value: Any, name: str, default: float) -> float:
    """A numeric parameter that may arrive as text."""
    if value is None or value == "":
        return default
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise AgentFailure(f"parameter '{name}' must be a number, got {value!r}") from exc


def split_text(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Split ``data`` (text by words, or a list by items) into ``partitions`` ordered, balanced parts."""
    p = params_of(payload)
    count = int(number(p.get("partitions"), "partitions", 3))
    if not 1 <= count <= 1000:
        raise AgentFailure(f"parameter 'partitions' must be between 1 and 1000, got {count}")
    data = p.get("data")
    items: list[Any] = list(data) if isinstance(data, (list, tuple)) else as_text(data).split()
    size, extra = divmod(len(items), count)
    parts: list[Any] = []
    start = 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        chunk = items[start:end]
        parts.append(chunk if isinstance(data, (list, tuple)) else " ".join(chunk))
        start = end
    return {"partitions": parts, "count": count, "sizes": [len(x) if isinstance(x, list) else len(x.split()) for x in parts],
            "total": len(items)}


TRANSFORMS: dict[str, Callable[[str], str]] = {
    "upper": str.upper,
    "lower": str.lower,
    "title": str.title,
    "reverse": lambda text: " ".join(reversed(text.split())),
    "none": lambda text: text,
}


def process_text(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Count the words and characters of ``data``, transform it (``transform``, default upper) and checksum the result."""
    p = params_of(payload)
    text = as_text(p.get("data"))
    how = str(p.get("transform") or "upper")
    if how not in TRANSFORMS:
        raise AgentFailure(f"parameter 'transform' must be one of {', '.join(TRANSFORMS)}, got '{how}'")
    result = TRANSFORMS[how](text)
    words = text.split()
    return {"partition": p.get("partition"), "words": len(words), "chars": len(text),
            "unique_words": len({w.lower() for w in words}), "transform": how, "result": result, "checksum": digest(result)}


def check_quality(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Score a worker's output 0..100: checksum matches (40), has words (30), word count matches (30)."""
    p = params_of(payload)
    data = p.get("data")
    data = data if isinstance(data, Mapping) else {"result": as_text(data)}
    threshold = number(p.get("threshold"), "threshold", 50)
    result, words = data.get("result"), data.get("words")
    score, issues = 0, []
    if isinstance(result, str) and data.get("checksum") == digest(result):
        score += 40
    else:
        issues.append("the checksum does not match the result")
    if isinstance(words, int) and not isinstance(words, bool) and words > 0:
        score += 30
    else:
        issues.append("the result has no words")
    if isinstance(result, str) and words == len(result.split()):
        score += 30
    else:
        issues.append("the word count does not match the result")
    return {"partition": p.get("partition", data.get("partition")), "score": score, "passed": score >= threshold,
            "threshold": threshold, "issues": issues}


def _part(index: int, result: Any, check: Any) -> dict[str, Any]:
    if not isinstance(result, Mapping):
        text = as_text(result)
        result = {"words": len(text.split()), "chars": len(text), "checksum": digest(text)}
    check = check if isinstance(check, Mapping) else {}
    return {"partition": result.get("partition") or index + 1, "words": int(result.get("words") or 0),
            "chars": int(result.get("chars") or 0), "checksum": result.get("checksum"),
            "score": check.get("score"), "passed": check.get("passed")}


def aggregate(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Combine ``results`` (and their ``checks``) into totals and an overall checksum; other parameters are summarised."""
    p = params_of(payload)
    results = list(p.get("results") or [])
    checks = list(p.get("checks") or [])
    parts = [_part(i, r, checks[i] if i < len(checks) else None) for i, r in enumerate(results)]
    scores = [x["score"] for x in parts if isinstance(x["score"], (int, float)) and not isinstance(x["score"], bool)]
    fields = {k: v for k, v in p.items() if k not in ("results", "checks")}
    out: dict[str, Any] = {
        "count": len(parts),
        "total_words": sum(x["words"] for x in parts),
        "total_chars": sum(x["chars"] for x in parts),
        "partitions": parts,
        "checksum": digest("".join(str(x["checksum"] or "") for x in parts)),
        "average_score": round(sum(scores) / len(scores), 2) if scores else None,
        "all_passed": all(x["passed"] is not False for x in parts) if checks else None,
        "fields": fields,
    }
    summary = []
    if parts:
        summary.append(f"{len(parts)} results, {out['total_words']} words")
        if scores:
            summary.append(f"average score {out['average_score']:g}")
    summary += [f"{k}={as_text(v)}" for k, v in sorted(fields.items())]
    out["summary"] = "; ".join(summary) or "nothing to aggregate"
    return out


# Weighted keywords of a request; any of the first group alone makes it high priority (threshold 50).
KEYWORDS: tuple[tuple[str, int], ...] = (
    ("urgent", 50), ("outage", 50), ("critical", 50), ("asap", 50), ("security", 50), ("emergency", 50),
    ("breach", 50), ("down", 30), ("immediately", 30), ("all users", 20), ("broken", 20), ("blocked", 20),
    ("production", 20), ("failing", 20), ("error", 10), ("customer", 10),
)


def assess(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Score a request text by weighted keywords; ``priority`` is high when the score reaches ``threshold`` (50)."""
    p = params_of(payload)
    text = as_text(p.get("data", p.get("request", p.get("text"))))
    threshold = number(p.get("threshold"), "threshold", 50)
    lowered = text.lower()
    found = [(word, weight) for word, weight in KEYWORDS if re.search(rf"\b{re.escape(word)}\b", lowered)]
    score = min(100, sum(weight for _, weight in found))
    return {"priority": "high" if score >= threshold else "normal", "score": score,
            "reasons": [f"'{word}' (+{weight})" for word, weight in found] or ["no priority keywords"],
            "keywords": [word for word, _ in found], "words": len(text.split())}


def notify(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Compose a message record from ``to``, ``subject`` and ``message`` (or the other parameters)."""
    p = params_of(payload)
    topic = p.get("priority") or p.get("decision") or "notification"
    subject = as_text(p.get("subject")) or f"{payload.get('name') or payload.get('task_id') or 'task'}: {as_text(topic)}"
    body = as_text(p.get("message") or p.get("body")) or "; ".join(
        f"{k}: {as_text(v)}" for k, v in sorted(p.items()) if k not in ("to", "subject", "channel"))
    message = {"to": p.get("to") or "requester", "channel": p.get("channel") or "log", "subject": subject, "body": body}
    message["id"] = digest(json.dumps(message, sort_keys=True, ensure_ascii=False))
    return {"delivered": True, "message": message}


def record(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Append the decision to ``<workspace>/decisions.jsonl`` (once per identical entry) and return it."""
    workspace = payload.get("workspace")
    if not workspace:
        raise AgentFailure("the recorder needs the instance workspace in its payload")
    p = params_of(payload)
    entry = {"key": payload.get("idempotency_key"), "instance_id": payload.get("instance_id"),
             "task_id": payload.get("task_id"), "event": as_text(p.get("event")) or "recorded",
             "data": {k: v for k, v in p.items() if k != "event"}}
    line = json.dumps(entry, sort_keys=True, ensure_ascii=False)
    path = Path(workspace) / "decisions.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    existing = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    if line not in existing:  # a re-run of the same attempt (at-least-once delivery) records it once
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        existing.append(line)
    return {"recorded": True, "event": entry["event"], "file": path.name, "line": existing.index(line) + 1, "record": entry}


# id -> (type, capabilities, module:function, description); the three workers share type "worker".
_WORKER = ("worker", ("count", "transform", "checksum", "text"), f"{_HERE}:process_text", "Counts, transforms and checksums text.")
_TABLE: dict[str, tuple[str, tuple[str, ...], str, str]] = {
    "builtin.splitter": ("splitter", ("split", "text"), f"{_HERE}:split_text",
                         "Splits text (by words) or a list into N ordered partitions."),
    "builtin.worker": _WORKER,
    "builtin.worker-2": _WORKER,
    "builtin.worker-3": _WORKER,
    "builtin.checker": ("checker", ("score", "quality"), f"{_HERE}:check_quality",
                        "Scores a worker's result 0-100 and says if it passed."),
    "builtin.aggregator": ("aggregator", ("aggregate", "summarise"), f"{_HERE}:aggregate",
                           "Combines results into totals and a summary."),
    "builtin.extractor": ("extractor", ("extract", "csv", "json", "text"), f"{_DATA}:extract",
                          "Reads records from a workspace file, inline data or a sample."),
    "builtin.transformer": ("transformer", ("transform", "normalise"), f"{_DATA}:transform",
                            "Normalises records and adds derived fields."),
    "builtin.validator": ("validator", ("validate",), f"{_DATA}:validate", "Checks records; fails on none or invalid ones."),
    "builtin.assessor": ("assessor", ("assess", "score", "triage"), f"{_HERE}:assess",
                         "Scores a request's priority from its keywords."),
    "builtin.notifier": ("notifier", ("notify",), f"{_HERE}:notify", "Composes a notification message record."),
    "builtin.recorder": ("recorder", ("record", "audit"), f"{_HERE}:record",
                         "Records a decision in the workspace's decisions.jsonl."),
}


def builtin_specs() -> dict[str, AgentSpec]:
    """The built-in agents as registry entries (kind ``builtin``)."""
    return {
        agent_id: AgentSpec(id=agent_id, kind="builtin", callable=fn, type=kind, capabilities=caps, description=text,
                            source="builtin")
        for agent_id, (kind, caps, fn, text) in _TABLE.items()
    }
