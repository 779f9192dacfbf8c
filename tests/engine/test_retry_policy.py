"""RetryPolicy (SPEC 3 ``retry``, 6.2): backoff, cap, jitter, which failures are retried, the shorthand."""

from __future__ import annotations

import pytest

from workflow_cli.model.document import RetryPolicy, build_task


def test_backoff_grows_by_the_factor_from_the_first_retry() -> None:
    policy = RetryPolicy(max_attempts=5, delay_seconds=2, backoff_factor=3)
    # attempt 2 is the first retry: delay_seconds x factor^(failed attempt - 1)
    assert [policy.delay_before(a) for a in (2, 3, 4, 5)] == [2, 6, 18, 54]


def test_default_backoff_factor_is_two() -> None:
    policy = RetryPolicy(max_attempts=4, delay_seconds=1)
    assert [policy.delay_before(a) for a in (2, 3, 4)] == [1, 2, 4]


def test_zero_delay_means_retry_at_once() -> None:
    assert RetryPolicy(max_attempts=3).delay_before(3) == 0


def test_max_delay_caps_the_backoff() -> None:
    policy = RetryPolicy(max_attempts=10, delay_seconds=1, backoff_factor=10, max_delay_seconds=30)
    assert [policy.delay_before(a) for a in (2, 3, 4, 5)] == [1, 10, 30, 30]


@pytest.mark.parametrize("rand", [0.0, 0.25, 0.5, 0.75, 0.999999])
def test_jitter_spreads_within_plus_or_minus_the_fraction(rand: float) -> None:
    policy = RetryPolicy(max_attempts=3, delay_seconds=10, jitter=0.2)
    delay = policy.delay_before(2, rand)
    assert 8.0 <= delay <= 12.0


def test_jitter_bounds_are_reached_at_the_ends_and_centre_is_exact() -> None:
    policy = RetryPolicy(max_attempts=3, delay_seconds=10, jitter=0.5)
    assert policy.delay_before(2, 0.0) == pytest.approx(5.0)
    assert policy.delay_before(2, 0.5) == pytest.approx(10.0)
    assert policy.delay_before(2, 1.0) == pytest.approx(15.0)


def test_without_jitter_the_random_draw_does_not_matter() -> None:
    policy = RetryPolicy(max_attempts=3, delay_seconds=4)
    assert policy.delay_before(3, 0.0) == policy.delay_before(3, 0.99) == 8


def test_delay_is_never_negative() -> None:
    assert RetryPolicy(max_attempts=2, delay_seconds=1, jitter=1.0).delay_before(2, 0.0) >= 0.0


def test_retry_on_filters_failure_kinds() -> None:
    both = RetryPolicy(max_attempts=3)
    assert both.allows("error") and both.allows("timeout")
    assert not both.allows("cancelled") and not both.allows("output") and not both.allows("rejected")
    only_timeout = RetryPolicy(max_attempts=3, retry_on=("timeout",))
    assert only_timeout.allows("timeout") and not only_timeout.allows("error", 1)


def test_exit_codes_filter_errors_by_exit_code() -> None:
    policy = RetryPolicy(max_attempts=3, exit_codes=(75, 111))
    assert policy.allows("error", 75)
    assert policy.allows("error", 111)
    assert not policy.allows("error", 1)
    assert policy.allows("timeout", None)  # a timeout has no exit code of its own to filter on


def test_shorthand_retry_count_and_delay() -> None:
    task = build_task("t", 0, {"action": "noop", "retry_count": 2, "retry_delay": 1.5}, {})
    assert task.retry.max_attempts == 3
    assert task.retry.delay_seconds == 1.5
    assert task.retry.backoff_factor == 2


def test_explicit_retry_block_wins_over_the_shorthand() -> None:
    spec = {"retry_count": 5, "retry_delay": 9, "retry": {"max_attempts": 2, "delay_seconds": 0.5}}
    task = build_task("t", 0, spec, {})
    assert (task.retry.max_attempts, task.retry.delay_seconds) == (2, 0.5)


def test_full_retry_block_is_read() -> None:
    spec = {"retry": {"max_attempts": 4, "delay_seconds": 1, "backoff_factor": 1.5, "max_delay_seconds": 3,
                      "jitter": 0.1, "retry_on": ["timeout"], "exit_codes": [3]}}
    policy = build_task("t", 0, spec, {}).retry
    assert policy == RetryPolicy(max_attempts=4, delay_seconds=1, backoff_factor=1.5, max_delay_seconds=3,
                                 jitter=0.1, retry_on=("timeout",), exit_codes=(3,))


def test_document_defaults_apply_and_tasks_override_them() -> None:
    defaults = {"retry_count": 1, "retry_delay": 2}
    inherited = build_task("a", 0, {}, defaults)
    own = build_task("b", 1, {"retry_count": 3}, defaults)
    assert (inherited.retry.max_attempts, inherited.retry.delay_seconds) == (2, 2)
    assert (own.retry.max_attempts, own.retry.delay_seconds) == (4, 2)


def test_no_retry_by_default() -> None:
    assert build_task("t", 0, {}, {}).retry.max_attempts == 1


def test_task_shorthand_wins_over_a_retry_block_in_defaults() -> None:
    task = build_task("t", 0, {"retry_count": 4}, {"retry": {"max_attempts": 2}})
    assert task.retry.max_attempts == 5
