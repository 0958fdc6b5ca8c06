"""One dataset read per transition: the dataset a transition read rides in its follow-up
(``seen``); a batch replayed from another writer's outbox reads the dataset again."""

from __future__ import annotations

from sccli.datasets import move_dataset
from sccli.followups import dataset_item, drain_outbox, outbox_batch
from sccli.queue import JobQueue
from sccli.store.base import Store
from tests.conftest import add_dataset


def _moved_back(store: Store) -> tuple[str, dict]:
    """A dataset moved to sync queued by a follow-up, then forced back to submitted by an administrator."""
    uuid = add_dataset(store, status="submitted")
    seen = store.get_dataset(uuid)
    assert seen is not None
    item = dataset_item(uuid, ["sync queued"], job_id=None, actor="t", reason="created", seen=seen)
    assert move_dataset(
        store, uuid, ["sync queued"], actor="t", reason="created", move_id=item["move_id"], seen=item["seen"]
    )
    move_dataset(store, uuid, "submitted", actor="admin", reason="by hand", force=True)
    return uuid, item


def test_a_replayed_move_reads_the_dataset_and_stays_a_no_op(queue: JobQueue, store: Store) -> None:
    uuid, item = _moved_back(store)
    batch = outbox_batch([item], store.now())
    drain_outbox(store, {"job_id": "no-such-job", "outbox": [batch]})  # another writer's batch: a replay
    assert store.get_dataset(uuid)["status"] == "submitted"  # type: ignore[index]


def test_the_writers_own_batch_trusts_what_it_read(queue: JobQueue, store: Store) -> None:
    """The counterpart: the writer's own batch takes the copy (so the replay case above is what
    stripping ``seen`` protects, not an accident)."""
    uuid, item = _moved_back(store)
    batch = outbox_batch([item], store.now())
    drain_outbox(store, {"job_id": "no-such-job", "outbox": [batch]}, own=batch["id"])
    assert store.get_dataset(uuid)["status"] == "sync queued"  # type: ignore[index]
