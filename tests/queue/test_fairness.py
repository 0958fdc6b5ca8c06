"""Fair sharing between users inside a priority: user A's 1,000 jobs queued before user B's 10
do not hold B's jobs behind them; priorities still come first."""

from __future__ import annotations

import pytest

from sccli.queue import JobQueue
from sccli.store.base import Store
from tests.conftest import add_dataset

TYPE = "data_validation"


def _enqueue(queue: JobQueue, user: str, n: int, priority: int | None = None) -> list[str]:
    return [
        queue.create_job(add_dataset(queue.store, user=user), TYPE, priority=priority, allow_duplicate=True)
        for _ in range(n)
    ]


def _drain(queue: JobQueue, limit: int) -> list[dict]:
    order = []
    for _ in range(limit):
        job = queue.claim_next("w1", [TYPE])
        if job is None:
            break
        order.append(job)
        queue.complete(job["job_id"], job["lease_token"])
    return order


def test_a_users_backlog_does_not_hold_another_users_jobs(queue: JobQueue, store_spec) -> None:
    n_a = 200 if store_spec.kind == "wire" else 1000  # the wire server is slow to fill; the bound does not depend on it
    _enqueue(queue, "alice@example.org", n_a)
    bobs = set(_enqueue(queue, "bob@example.org", 10))
    assert queue.require_job(next(iter(bobs)))["user"] == "bob@example.org"
    order = _drain(queue, 40)
    starts = [i for i, job in enumerate(order) if job["job_id"] in bobs]
    # Two users with ready work: each gets every other start, so B's 10 jobs start within 21 claims.
    assert len(starts) == 10 and starts[-1] <= 21, starts
    print(f"\nB's 10 jobs started at claims {starts} behind A's {n_a} (of 40 claims)")


def test_fairness_stays_inside_a_priority(queue: JobQueue) -> None:
    _enqueue(queue, "alice@example.org", 5, priority=1)
    low = set(_enqueue(queue, "bob@example.org", 3, priority=3))
    order = _drain(queue, 8)
    assert [job["job_id"] in low for job in order] == [False] * 5 + [True] * 3


def test_three_users_round_robin(queue: JobQueue) -> None:
    for user in ("a", "b", "c"):
        _enqueue(queue, user, 6)
    users = [job["user"] for job in _drain(queue, 9)]
    assert sorted(users) == ["a"] * 3 + ["b"] * 3 + ["c"] * 3, users


@pytest.mark.parametrize("n", [3])
def test_jobs_without_a_user_are_never_passed_over(queue: JobQueue, n: int, store: Store) -> None:
    anonymous = [queue.create_job(add_dataset(store), TYPE, allow_duplicate=True) for _ in range(n)]
    _enqueue(queue, "alice@example.org", n)
    assert [job["job_id"] for job in _drain(queue, n)] == anonymous
