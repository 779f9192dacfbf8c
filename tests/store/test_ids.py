"""Instance ids and prefix resolution."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from workflow_cli.errors import InvalidInputError, NotFoundError
from workflow_cli.store.ids import ID_PATTERN, new_instance_id, reserve_instance_id, resolve_instance_id


def test_format_encodes_utc_time_and_milliseconds() -> None:
    moment = datetime(2026, 11, 21, 21, 51, 49, 123456, tzinfo=timezone.utc)
    instance_id = new_instance_id(moment)
    assert ID_PATTERN.match(instance_id)
    assert instance_id.startswith("20261121-215149-123")


def test_other_time_zones_are_converted_to_utc() -> None:
    paris = timezone(timedelta(hours=1))
    assert new_instance_id(datetime(2026, 1, 1, 0, 30, tzinfo=paris)).startswith("20251231-233000-000")


def test_ten_thousand_ids_are_unique_and_sorted_by_creation() -> None:
    ids = [new_instance_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert all(ID_PATTERN.match(i) for i in ids)


def test_same_explicit_time_still_unique_and_sorted() -> None:
    moment = datetime(2030, 5, 5, 5, 5, 5, tzinfo=timezone.utc)
    ids = [new_instance_id(moment) for _ in range(5_000)]
    assert len(set(ids)) == len(ids) and ids == sorted(ids)


def test_reserve_creates_private_folder(tmp_path: Path) -> None:
    instance_id = reserve_instance_id(tmp_path)
    folder = tmp_path / instance_id
    assert folder.is_dir() and folder.stat().st_mode & 0o777 == 0o700


@pytest.fixture
def instances(tmp_path: Path) -> Path:
    for name in ["20261121-215149-123a4f", "20261121-215149-456b00", "20261122-090000-000abc", ".tmp-x"]:
        (tmp_path / name).mkdir()
    (tmp_path / "20261123-000000-000fff").write_text("a stray file, not an instance")
    return tmp_path


def test_exact_and_unique_prefix(instances: Path) -> None:
    assert resolve_instance_id(instances, "20261121-215149-456b00") == "20261121-215149-456b00"
    assert resolve_instance_id(instances, "20261122") == "20261122-090000-000abc"
    assert resolve_instance_id(instances, "20261121-215149-1") == "20261121-215149-123a4f"


def test_ambiguous_prefix_lists_candidates(instances: Path) -> None:
    with pytest.raises(InvalidInputError) as info:
        resolve_instance_id(instances, "20261121")
    assert "20261121-215149-123a4f" in str(info.value) and "20261121-215149-456b00" in str(info.value)
    assert info.value.exit_code == 2


def test_at_most_five_candidates_are_listed(tmp_path: Path) -> None:
    names = [f"20261121-000000-00{i}aaa" for i in range(8)]
    for name in names:
        (tmp_path / name).mkdir()
    with pytest.raises(InvalidInputError) as info:
        resolve_instance_id(tmp_path, "2026")
    message = str(info.value)
    assert sum(name in message for name in names) == 5
    assert "8 instances" in message


@pytest.mark.parametrize("prefix", ["2027", "20261123", "zzz"])
def test_missing_is_not_found(instances: Path, prefix: str) -> None:
    with pytest.raises(NotFoundError) as info:
        resolve_instance_id(instances, prefix)
    assert f"no instance matches '{prefix}'" in str(info.value)
    assert info.value.exit_code == 4


def test_missing_instances_folder_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        resolve_instance_id(tmp_path / "nope", "2026")


@pytest.mark.parametrize("prefix", ["", "../x", "a/b", "..", ".tmp", "x\0y"])
def test_unsafe_prefixes_are_refused(instances: Path, prefix: str) -> None:
    with pytest.raises(InvalidInputError):
        resolve_instance_id(instances, prefix)


def test_an_explicit_older_time_is_honoured() -> None:
    new_instance_id()
    assert new_instance_id(datetime(2001, 2, 3, 4, 5, 6, tzinfo=timezone.utc)).startswith("20010203-040506-000")
