"""The claim policy on its own, with a recording claim write over a real store: what it lets
through to the write (types, lease token, filter) and how often it reads ``queue_controls``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sccli.claim_policy import ClaimPolicy
from sccli.claiming import claim_one
from sccli.controls import set_limits
from sccli.gate import gates
from sccli.pause import pause_types
from sccli.queue import JobQueue
from sccli.store.base import ClaimFilter
from tests.conftest import add_dataset

CAPPED, FREE, PAUSED = "file_extraction", "data_validation", "file_upload"


class Recording:
    """A claim write that records each call and claims for real."""

    def __init__(self, queue: JobQueue) -> None:
        self.queue, self.calls = queue, []

    def __call__(self, types: Sequence[str], /, *, lease_token: str | None, now: datetime | None,
                 narrow: ClaimFilter) -> dict[str, Any] | None:
        self.calls.append((list(types), lease_token, narrow))
        return claim_one(self.queue.store, "w1", types, "host", 1, lease_token=lease_token, now=now, narrow=narrow)


class CountingReads:
    """Counts the store's ``list_controls`` reads."""

    def __init__(self, store: Any) -> None:
        self.store, self.reads = store, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def list_controls(self) -> list[dict[str, Any]]:
        self.reads += 1
        return self.store.list_controls()


def _job(queue: JobQueue, job_type: str, user: str | None = None) -> str:
    dataset = add_dataset(queue.store, user=user) if user else add_dataset(queue.store)
    return queue.create_job(dataset, job_type, allow_duplicate=True)


def test_a_paused_type_never_reaches_the_write(queue: JobQueue) -> None:
    _job(queue, PAUSED)
    pause_types(queue.store, [PAUSED], "maintenance", "cli:test")
    write = Recording(queue)
    assert ClaimPolicy(queue.store).claim([PAUSED], write, "w1") is None
    assert write.calls == []
    free = _job(queue, FREE)
    job = ClaimPolicy(queue.store).claim([PAUSED, FREE], write, "w1")
    assert job is not None and job["job_id"] == free
    assert all(PAUSED not in types for types, _, _ in write.calls)


def test_a_capped_type_is_claimed_with_its_gate_slot_token(queue: JobQueue) -> None:
    _job(queue, CAPPED)
    set_limits(queue.store, CAPPED, {"max_running": 1}, [], "cli:test", "quota")
    write = Recording(queue)
    job = ClaimPolicy(queue.store).claim([CAPPED], write, "w1")
    assert job is not None
    ((types, token, _),) = write.calls
    assert types == [CAPPED] and token == job["lease_token"]  # the slot's token is the job's lease
    holders = gates(queue.store.list_controls())[CAPPED]["holders"]
    assert [(h["token"], h.get("job_id")) for h in holders] == [(token, job["job_id"])]
    _job(queue, CAPPED)
    assert ClaimPolicy(queue.store).claim([CAPPED], write, "w1") is None  # the cap holds
    assert len(write.calls) == 1  # ... before any write


def test_the_fair_share_passes_over_the_user_served_last(queue: JobQueue) -> None:
    _job(queue, FREE, "alice")
    _job(queue, FREE, "alice")
    bob = _job(queue, FREE, "bob")
    write = Recording(queue)
    policy = ClaimPolicy(queue.store)
    assert (policy.claim([FREE], write, "w1") or {}).get("user") == "alice"
    job = policy.claim([FREE], write, "w1")
    assert job is not None and job["job_id"] == bob
    assert write.calls[-1][2].skip_users == ("alice",)


def test_one_controls_read_per_claim_shared_by_claims_in_a_row_within_the_ttl(queue: JobQueue) -> None:
    for user in ("alice", "bob", "carol", "dave"):
        _job(queue, FREE, user)
    pause_types(queue.store, [PAUSED], "maintenance", "cli:test")  # pauses and the fair share: one read
    counting = CountingReads(queue.store)
    policy = ClaimPolicy(counting)
    write = Recording(queue)
    assert policy.claim([FREE, PAUSED], write, "w1") is not None
    assert counting.reads == 1 and len(write.calls) >= 1
    assert policy.claim([FREE, PAUSED], write, "w1") is not None
    assert counting.reads == 2  # ttl 0: every claim reads them again
    policy.ttl = 3600.0
    assert policy.claim([FREE, PAUSED], write, "w1") is not None
    assert policy.claim([FREE, PAUSED], write, "w1") is not None
    assert counting.reads == 2  # claims in a row within the ttl share the snapshot
    assert policy.claim([FREE, PAUSED], write, "w1") is None
    assert policy.claim([FREE, PAUSED], write, "w1") is None
    assert counting.reads == 3  # ... until a claim finds nothing: the next one reads again
