"""The built-in ETL agents: extractor, transformer and validator (SPEC 13, ``sequential_pipeline``).

The extractor reads ``source`` from the instance workspace (CSV, TSV, JSON, JSON lines or text) when such a
file exists; else from a sample file of that name shipped in ``workflow_cli/sample_data`` (``orders.csv``,
the template's default); otherwise the value is inline data (JSON, or CSV/text lines) or, for a bare name,
a small deterministic sample dataset named after it, so the pipeline runs on a fresh install.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from pathlib import Path
from collections.abc import Mapping
from typing import Any

from workflow_cli.agents.builtin import AgentFailure, digest, params_of

MAX_SOURCE_BYTES = 8 * 1024 * 1024
_INT = re.compile(r"^[+-]?\d{1,15}$")
_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")
_CATEGORIES = ("alpha", "beta", "gamma", "delta")


def _parse_json(text: str, where: str) -> Any:
    """JSON with the document loader's limits (no NaN, no huge numbers, no absurd nesting)."""
    from workflow_cli.errors import InvalidInputError
    from workflow_cli.model.loader import parse_text

    try:
        return parse_text(text, fmt="json")
    except InvalidInputError as exc:
        raise AgentFailure(f"{where} is not valid JSON: {exc}") from exc


def _records(value: Any) -> list[dict[str, Any]]:
    """A list of records from parsed data: a list, ``{"records": [...]}`` or one object."""
    if isinstance(value, Mapping) and isinstance(value.get("records"), list):
        value = value["records"]
    if isinstance(value, Mapping):
        return [dict(value)]
    if isinstance(value, list):
        return [dict(item) if isinstance(item, Mapping) else {"value": item} for item in value]
    return [{"value": value}]


def _table(text: str, delimiter: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    return [{str(k): v for k, v in row.items() if k is not None} for row in reader]


def _text_records(text: str, kind: str) -> list[dict[str, Any]]:
    """Records from file or inline text by ``kind``: csv, tsv, json, jsonl or lines."""
    if kind == "json":
        return _records(_parse_json(text, "the source"))
    if kind == "jsonl":
        lines = [line for line in text.splitlines() if line.strip()]
        return [r for n, line in enumerate(lines, 1) for r in _records(_parse_json(line, f"line {n} of the source"))]
    if kind in ("csv", "tsv"):
        return _table(text, "," if kind == "csv" else "\t")
    return [{"line": n, "text": line.strip()} for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def _kind_of(path: Path) -> str:
    return {".csv": "csv", ".tsv": "tsv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(path.suffix.lower(), "lines")


def _workspace_file(workspace: Any, name: str) -> Path | None:
    """The file ``name`` inside the workspace (symlinks resolved), None when absent; outside it is refused."""
    if not workspace or "\n" in name or "\0" in name or len(name) > 1024:
        return None
    base = Path(workspace).resolve()
    target = (base / name).resolve()
    if target != base and base not in target.parents:
        raise AgentFailure(f"source '{name}' is outside the instance workspace")
    if target.is_dir():
        raise AgentFailure(f"source '{name}' is a folder, not a file")
    return target if target.is_file() else None


def _read(path: Path, name: str) -> list[dict[str, Any]]:
    size = path.stat().st_size
    if size > MAX_SOURCE_BYTES:
        raise AgentFailure(f"source '{name}' is {size} bytes; the limit is {MAX_SOURCE_BYTES}")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AgentFailure(f"source '{name}' is not UTF-8 text (byte {exc.start})") from exc
    return _text_records(text, _kind_of(path))


def shipped_sample(name: str) -> Path | None:
    """The sample data file ``name`` shipped in ``workflow_cli/sample_data`` (e.g. ``orders.csv``), None if none."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,100}", name):
        return None
    path = Path(__file__).resolve().parent.parent / "sample_data" / name
    return path if path.is_file() else None


def sample_records(name: str) -> list[dict[str, Any]]:
    """A small deterministic dataset named after ``name`` (raw, CSV-like: padded text, numbers as text)."""
    seed = hashlib.sha256(name.encode("utf-8")).digest()
    label = Path(name).stem or name
    return [
        {"ID": str(i + 1), "Name": f"  {label} item {i + 1} ", "Amount": f"{(seed[i + 1] * 37 % 10000) / 100:.2f}",
         "Category": _CATEGORIES[seed[i + 9] % len(_CATEGORIES)]}
        for i in range(5 + seed[0] % 4)
    ]


def extract(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Read the records of ``source``: a workspace file, inline data, or a deterministic sample."""
    source = params_of(payload).get("source")
    if isinstance(source, (list, Mapping)):
        records, origin, label = _records(source), "inline", "inline"
    else:
        text = str(source if source is not None else "").strip()
        if not text:
            raise AgentFailure("parameter 'source' is required")
        path = _workspace_file(payload.get("workspace"), text)
        shipped = shipped_sample(text) if path is None else None
        if path is not None:
            records, origin, label = _read(path, text), "file", text
        elif shipped is not None:
            records, origin, label = _read(shipped, text), "shipped sample", text
        elif text[:1] in "[{":
            records, origin, label = _text_records(text, "json"), "inline", "inline"
        elif "\n" in text:
            first = text.splitlines()[0]
            records, origin, label = _text_records(text, "csv" if "," in first else "lines"), "inline", "inline"
        else:
            records, origin, label = sample_records(text), "sample", text
    fields = sorted({k for r in records for k in r})
    return {"source": label, "origin": origin, "records": records, "count": len(records), "fields": fields}


def _key(name: Any) -> str:
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower()) or "field"


def _value(value: Any) -> Any:
    """Strip text; text that is a number becomes one; empty text becomes null."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        return None
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    return text


def records_of(data: Any, what: str) -> list[Any]:
    """The records a stage is handed: ``{"records": [...]}`` (a previous stage's outputs) or a list.

    A non-empty object without ``records`` (what a user-defined agent may return) is one record.
    """
    if isinstance(data, Mapping) and isinstance(data.get("records"), list):
        return list(data["records"])
    if isinstance(data, list):
        return list(data)
    if isinstance(data, Mapping) and data:
        return [dict(data)]
    raise AgentFailure(f"the {what} needs 'data' holding a list of records or {{\"records\": [...]}}")


def _shape_note(data: Any) -> dict[str, str]:
    """Says so in the outputs when the data had no ``records`` list and was taken as one record."""
    if isinstance(data, Mapping) and not isinstance(data.get("records"), list):
        return {"note": "the data holds no 'records' list: it was taken as one record"}
    return {}


def transform(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Normalise records: keys stripped and lower-cased, text stripped, numbers parsed; add ``row`` and ``fingerprint``."""
    data = params_of(payload).get("data")
    out = []
    for row, record in enumerate(records_of(data, "transformer"), 1):
        raw = record if isinstance(record, Mapping) else {"value": record}
        clean = {_key(k): _value(v) for k, v in raw.items()}
        clean["row"] = row
        clean["fingerprint"] = digest(json.dumps(clean, sort_keys=True, ensure_ascii=False, default=str))[:12]
        out.append(clean)
    source = data.get("source") if isinstance(data, Mapping) else None
    return {"source": source, "records": out, "count": len(out), "fields": sorted({k for r in out for k in r}),
            **_shape_note(data)}


def validate(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Check records: at least one, each a non-empty object with ``required_fields``, ``count`` consistent."""
    p = params_of(payload)
    data = p.get("data")
    records = records_of(data, "validator")
    if not records:
        raise AgentFailure("no records to validate")
    required = [str(f) for f in p.get("required_fields") or []]
    problems = []
    declared = data.get("count") if isinstance(data, Mapping) and isinstance(data.get("records"), list) else None
    if isinstance(declared, int) and declared != len(records):
        problems.append(f"count says {declared} but there are {len(records)} records")
    for n, record in enumerate(records, 1):
        if not isinstance(record, Mapping) or not record:
            problems.append(f"record {n} is empty or not an object")
            continue
        missing = [f for f in required if record.get(f) in (None, "")]
        if missing:
            problems.append(f"record {n} lacks {', '.join(missing)}")
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise AgentFailure(f"{len(problems)} invalid: " + "; ".join(problems[:5]) + more)
    fields = sorted({k for r in records for k in r})
    return {"valid": True, "count": len(records), "checked": len(records), "fields": fields, **_shape_note(data)}
