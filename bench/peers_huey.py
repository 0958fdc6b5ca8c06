"""The Huey application of the peers bench (``huey_consumer peers_huey.huey -w 2 -k process``).

``PEERS_HUEY=redis`` uses ``RedisHuey`` at ``PEERS_REDIS_URL`` (its defaults: blocking dequeue
with a 1 s read timeout); ``PEERS_HUEY=sqlite`` uses ``SqliteHuey`` in the file ``PEERS_HUEY_DB``
(a polling consumer: 0.1 s first delay, backed off ×1.15 up to 10 s while idle).
"""

from __future__ import annotations

import os

import peers_jobs
from huey import RedisHuey, SqliteHuey

if os.environ.get("PEERS_HUEY", "redis") == "sqlite":
    huey = SqliteHuey("peers", filename=os.environ.get("PEERS_HUEY_DB", "/tmp/sc-bench-peers/huey.db"))
else:
    huey = RedisHuey("peers", url=os.environ.get("PEERS_REDIS_URL", "redis://127.0.0.1:6379/2"))


@huey.task()
def noop() -> bool:
    """The trivial job."""
    return peers_jobs.noop()


@huey.task()
def mark(port: int, token: str) -> bool:
    """Report the start time to the bench."""
    return peers_jobs.mark(port, token)
