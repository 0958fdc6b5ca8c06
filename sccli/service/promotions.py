"""The store's say over an attempt's files: a child's output goes in place only after a heartbeat
fenced by its lease token succeeded, and an attempt whose lease is lost keeps only its log.

Both are asked of the supervisor on its main thread and answered through the store thread
(:class:`~sccli.service.storelink.Op`), so a slow store delays a promotion but never blocks the service.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sccli.service.running import RunningJob, promotion_check
from sccli.service.storelink import Op

if TYPE_CHECKING:
    from sccli.service.duties import StoreDuties

log = logging.getLogger("sccli.service")


def serve_promotions(jobs: Iterable[RunningJob], duties: StoreDuties) -> None:
    """Answer each child asking to put its output in place: yes only after a heartbeat fenced
    by its lease token succeeded in the store (a lost lease stops the job)."""
    for rj in jobs:
        while rj.promotions:
            number, final = rj.promotions[0].number, rj.promotions.pop(0).path
            if not rj.may_promote:
                rj.answer_promotion(number, False)
                continue
            _ask_store(rj, number, final, duties)


def _ask_store(rj: RunningJob, number: int, final: str, duties: StoreDuties) -> None:
    job_id, token = rj.job_id, rj.token

    def done(doc: Any, error: BaseException | None) -> None:
        allowed = error is None and bool(doc) and rj.may_promote  # False or None: the lease is lost
        if not allowed:
            log.warning("job %s: refused to put %s in place (%s)", job_id, final,
                        "lease lost" if error is None else f"store: {error}", extra={"job_id": job_id})
        rj.answer_promotion(number, allowed)  # first, so a refused child can fail cleanly
        if error is None:
            duties.after_heartbeat(job_id, rj.token, doc)

    duties.submit(Op(f"promote:{job_id}:{number}", lambda q: promotion_check(q, job_id, token), done=done))


def keep_attempt_log(rj: RunningJob, duties: StoreDuties) -> None:
    """Copy the end of the attempt's log into the job's ``logs`` (readable from any host) on
    its own: the attempt's outcome is not ours to record (its lease is lost)."""
    message, job_id, rj.attempt_log = rj.attempt_log, rj.job_id, None
    if message is not None:
        name = f"log:{job_id}:{rj.child.pid if rj.child else 0}"
        duties.submit(Op(name, lambda q: q.add_log(job_id, message)))
