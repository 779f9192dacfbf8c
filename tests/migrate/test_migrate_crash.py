"""A crash in the middle of ``migrate all`` leaves every file either old or new, and a re-run finishes the job."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from workflow_cli.model.loader import load_document
from workflow_cli.model.migrations import migrate_document
from workflow_cli.store.home import Home

TEMPLATES = 120


def _populate(home: Path, old_docs: dict[str, Any], count: int) -> dict[Path, bytes]:
    """``count`` old home templates (versions and formats mixed); returns each file's original bytes."""
    import yaml

    originals = {}
    versions = list(old_docs)
    for i in range(count):
        doc = old_docs[versions[i % len(versions)]]
        doc = {**doc, "name": f"{doc['name']} #{i}"}
        suffix = ".yaml" if i % 2 else ".json"
        path = home / "templates" / f"t{i:04d}{suffix}"
        path.write_text(yaml.safe_dump(doc, sort_keys=False) if suffix == ".yaml" else json.dumps(doc), encoding="utf-8")
        originals[path] = path.read_bytes()
    return originals


def _check_old_or_new(originals: dict[Path, bytes]) -> tuple[int, int]:
    """Every file parses and is either byte-identical to its original or the migrated document; (old, new) counts."""
    old = new = 0
    for path, before in originals.items():
        if path.read_bytes() == before:
            old += 1
            continue
        doc = load_document(path)
        expected, _ = migrate_document(load_document_bytes(path, before))
        assert doc == expected, path
        new += 1
    return old, new


def load_document_bytes(path: Path, data: bytes) -> dict[str, Any]:
    """The document a file held, given its old bytes."""
    from workflow_cli.model.loader import parse_text

    return parse_text(data.decode("utf-8"), fmt="json" if path.suffix == ".json" else "yaml")


def _check_backups(home: Path, originals: dict[Path, bytes]) -> None:
    """Every migrated file's old bytes are in some backup folder."""
    for path, before in originals.items():
        if path.read_bytes() != before:
            copies = list((home / "backups").glob(f"*/templates/{path.name}"))
            assert any(c.read_bytes() == before for c in copies), path


class _Crash(BaseException):
    """Stands for the process dying: nothing catches it."""


def test_injected_crash_after_n_files(home, old_docs, monkeypatch):
    from workflow_cli.ops import migrate, migrate_files

    originals = _populate(home, old_docs, 12)
    real_write = migrate_files.write_bytes_atomic
    replaced = []

    def failing_write(path: Path, data: bytes, *, mode: int = 0o600) -> None:
        if "backups" not in Path(path).parts:
            if len(replaced) == 5:
                raise _Crash()
            replaced.append(path)
        real_write(path, data, mode=mode)

    monkeypatch.setattr(migrate_files, "write_bytes_atomic", failing_write)
    with pytest.raises(_Crash):
        migrate.migrate_all(Home(home))
    assert _check_old_or_new(originals) == (7, 5)
    _check_backups(home, originals)
    monkeypatch.setattr(migrate_files, "write_bytes_atomic", real_write)
    report = migrate.migrate_all(Home(home))
    assert report.exit_code == 0 and len(report.changed) == 7
    assert _check_old_or_new(originals) == (0, 12)
    _check_backups(home, originals)


def test_sigkill_in_the_middle_of_migrate_all(home, old_docs, boot_cli):
    originals = _populate(home, old_docs, TEMPLATES)
    proc = boot_cli("migrate", "all")
    deadline = time.monotonic() + 30
    while proc.poll() is None and time.monotonic() < deadline:
        if len(list((home / "backups").glob("*/templates/*"))) >= 10:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.001)
    proc.communicate(timeout=30)
    old, new = _check_old_or_new(originals)
    assert new >= 1 and old + new == TEMPLATES
    _check_backups(home, originals)
    finish = boot_cli("migrate", "all", "--json")
    out, err = finish.communicate(timeout=60)
    assert finish.returncode == 0, err
    assert json.loads(out)["changed"] == old
    assert _check_old_or_new(originals) == (0, TEMPLATES)
    _check_backups(home, originals)
