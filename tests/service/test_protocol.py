"""The messages between the service's processes (sccli.service.protocol): every one round-trips,
anything else is refused with a clear error, and a child that garbles its channel fails its own
attempt while the service goes on serving."""

from __future__ import annotations

import os
import socket
import struct
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest

from sccli.service import protocol
from sccli.service.child import Channel as ChildChannel
from sccli.service.launcher import Child
from sccli.service.protocol import Channel, ProtocolError, decode, encode
from sccli.service.resources import Usage
from sccli.service.running import RunningJob
from tests.conftest import StoreSpec
from tests.service.conftest import make_queue, new_job, write_settings

USAGE = Usage(user_seconds=0.25, system_seconds=0.5, max_rss_bytes=1 << 20, read_bytes=10, write_bytes=None)

#: One sample of every message, with the channel it is read on.
SAMPLES: list[tuple[Channel, Any]] = [
    (Channel.TO_TEMPLATE, protocol.StartRequest(3, "ok", "/logs/sc_job_x.log", 1 << 20, b"\x80settings", b"\x80job")),
    (Channel.TO_TEMPLATE, protocol.StartRequest(4, "ok", "/logs/sc_job_y.log", 0, None, b"")),
    (Channel.FROM_TEMPLATE, protocol.Started(3, 4242)),
    (Channel.FROM_TEMPLATE, protocol.StartFailed(3, "cannot start a child: EAGAIN")),
    (Channel.FROM_TEMPLATE, protocol.Exited(4242, -9, "last\nlines", USAGE)),
    (Channel.FROM_TEMPLATE, protocol.Exited(4242, None)),
    (Channel.TO_FORKER, protocol.ForkRequest(3, "ok", None, b"\x80job")),
    (Channel.FROM_FORKER, protocol.Forked(3, 4242)),
    (Channel.FROM_FORKER, protocol.StartFailed(3, "the job's socket and log pipe were not passed")),
    (Channel.FROM_FORKER, protocol.Ended(4242, 0, USAGE)),
    (Channel.FROM_FORKER, protocol.Ended(4242, 70, None)),
    (Channel.FROM_CHILD, protocol.Progress(42.5, "halfway")),
    (Channel.FROM_CHILD, protocol.Progress(None, None)),
    (Channel.FROM_CHILD, protocol.MayPromote(1, "/out/final.nc")),
    (Channel.FROM_CHILD, protocol.Result({"status": "ok", "n": 3, "nested": {"a": [1, 2.5, None]}})),
    (Channel.FROM_CHILD, protocol.Failure("boom", "permanent")),
    (Channel.TO_CHILD, protocol.Promote(1, False)),
]


def all_message_types() -> set[type]:
    found: set[type] = set()
    todo = list(protocol._Message.__subclasses__())
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo += cls.__subclasses__()
    return found


def test_samples_cover_every_message_type() -> None:
    assert {type(message) for _, message in SAMPLES} == all_message_types()


@pytest.mark.parametrize(("channel", "message"), SAMPLES, ids=lambda v: type(v).__name__)
def test_every_message_round_trips(channel: Channel, message: Any) -> None:
    back = decode(channel, encode(message))
    assert back == message and type(back) is type(message)


def test_messages_are_frozen() -> None:
    message = protocol.Progress(1.0, "x")
    with pytest.raises(AttributeError):
        message.percentage = 2.0  # type: ignore[misc]


@pytest.mark.parametrize("channel", list(Channel))
def test_a_message_of_another_channel_is_refused(channel: Channel) -> None:
    foreign = [message for ch, message in SAMPLES if ch is not channel
               and type(message) not in {type(m) for c, m in SAMPLES if c is channel}]
    assert foreign
    for message in foreign:
        with pytest.raises(ProtocolError, match=channel.value):
            decode(channel, encode(message))


@pytest.mark.parametrize("data", [
    b"", b"garbage", b"\x93\xa8progress",  # not msgpack, truncated
    b"\x92\xa7unknown\x01",  # an unknown tag
    b"\x93\xa8progress\xa1x\x01",  # fields of the wrong types
    b"\x92\xa8progress\x01",  # a field missing
    b"\x94\xabmay_promote\x01\xa1p\x02",  # a field too many
    b"\x82\xa1a\x01\xa1b\x02",  # a map, not a message
])
def test_malformed_messages_are_refused_clearly(data: bytes) -> None:
    with pytest.raises(ProtocolError, match=r"child → service: malformed message"):
        decode(Channel.FROM_CHILD, data)


def test_an_oversized_message_is_refused_unread() -> None:
    with pytest.raises(ProtocolError, match="too large"):
        decode(Channel.FROM_CHILD, b"\x00" * (protocol.MAX_MESSAGE + 1))
    for peer_sends, refused in ((struct.pack("!i", protocol.MAX_MESSAGE + 1), ProtocolError), (b"", EOFError)):
        ours, theirs = socket.socketpair()
        conn = Connection(ours.detach())
        try:
            theirs.sendall(peer_sends)
            theirs.close()
            with pytest.raises(refused):
                protocol.receive(conn, Channel.FROM_CHILD)
        finally:
            conn.close()


# -- the child's channel, as the service reads it -------------------------------------------------
@pytest.fixture
def attempt() -> Any:
    """A RunningJob whose child end is a ChildChannel of this process."""
    ours, theirs = socket.socketpair()
    rj = RunningJob(job={"job_id": "j1", "job_type": "ok", "timeout_minutes": 1}, started=100.0)
    rj.child = Child(pid=os.getpid(), conn=Connection(ours.detach()))
    channel = ChildChannel(theirs.detach(), stale_after=60.0)
    yield rj, channel
    if rj.pipe_open:
        rj.child.conn.close()
    os.close(channel.fd)


def test_the_service_reads_what_a_child_sends(attempt: Any) -> None:
    rj, channel = attempt
    channel.send(protocol.Progress(10.0, "ten"))
    channel.send(protocol.MayPromote(1, "/out/a"))
    channel.send(protocol.Result({"status": "ok"}))
    rj.take_messages()
    assert rj.progress == (10.0, "ten") and rj.progress_dirty
    assert rj.promotions == [protocol.MayPromote(1, "/out/a")]
    assert rj.outcome == protocol.Result({"status": "ok"}) and rj.pipe_open
    rj.answer_promotion(1, True)
    assert channel._recv(5.0) == protocol.Promote(1, True)


@pytest.mark.parametrize("garbage", [
    struct.pack("!i", 7) + b"garbage",
    b"garbage without a frame",
    struct.pack("!i", 5) + encode(protocol.Promote(1, True)),
])
def test_a_garbled_child_fails_its_attempt(attempt: Any, garbage: bytes) -> None:
    rj, channel = attempt
    channel.send(protocol.Progress(10.0, "ten"))
    os.write(channel.fd, garbage)
    channel.send(protocol.Result({"status": "ok"}))  # too late: the channel is not to be trusted
    rj.take_messages()
    assert rj.progress == (10.0, "ten")
    assert isinstance(rj.outcome, protocol.Failure) and "garbled its channel" in rj.outcome.text
    assert not rj.pipe_open


def test_the_deadline_counts_from_the_handler_start() -> None:
    rj = RunningJob(job={"job_id": "j1", "job_type": "ok", "timeout_minutes": 2,
                         "parameters": {"timeout_seconds": 30}}, started=100.0)
    assert rj.time_limit == 30 and rj.deadline == 130.0  # until the child starts: from the claim
    rj.start_clock(105.0)
    assert rj.deadline == 135.0


# -- end to end: a real service, a child plugin that garbles its socket ----------------------------
def test_the_service_survives_a_garbled_child(sqlite_spec: StoreSpec, tmp_path: Path, services) -> None:
    handlers = {"garble": "tests.service.garble_plugins:garble"}
    settings = write_settings(tmp_path, handlers=handlers, workers=1)
    queue = make_queue(sqlite_spec.open(), settings)
    queue.extra_types = frozenset({*queue.extra_types, "garble"})
    garbled = [new_job(queue, "garble", parameters={"how": how}, max_attempts=1) for how in ("frame", "raw", "foreign")]
    after = new_job(queue, "ok")
    service = services(sqlite_spec, settings, "--until-idle")
    assert service.wait() == 0, service.log()[-3000:]
    for job_id in garbled:
        job = queue.get_job(job_id)
        assert job["status"] == "failed", job
        assert "garbled its channel" in job["error"] and "should not count" not in str(job.get("result"))
    assert queue.get_job(after)["status"] == "completed"
    assert "Traceback" not in service.log()
