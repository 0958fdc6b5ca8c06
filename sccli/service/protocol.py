"""The messages between the service's processes: one frozen type per message, one encode/decode.

Three channels, each a socket pair (see :mod:`sccli.service.launcher`, :mod:`sccli.service.template`,
:mod:`sccli.service.forker` and :mod:`sccli.service.child` for who holds which end):

- service ↔ template: :class:`StartRequest` (with the child's end of the job socket attached);
  answered by :class:`Started` or :class:`StartFailed`, and later :class:`Exited` when the child
  ended and its output is in its log;
- template ↔ forker: :class:`ForkRequest` (with the job socket and the log pipe attached);
  answered by :class:`Forked` or :class:`StartFailed`, and :class:`Ended` when the forker reaped it;
- child ↔ service: :class:`Progress`, :class:`MayPromote` (answered by :class:`Promote`), and the
  attempt's outcome, :class:`Result` or :class:`Failure`.

Each message travels as a msgpack array ``[tag, field, ...]`` (the tags are the words the
channels used before they were typed). :func:`decode` accepts only the messages of the channel it
reads, with fields of the declared types; anything else raises :class:`ProtocolError`, so that a
garbled peer (a handler writing into its job socket) fails its attempt instead of the service.
Settings and the child's request stay pickles inside ``bytes`` fields: the template and the forker
pass them on unread.
"""

from __future__ import annotations

from enum import Enum
from multiprocessing.connection import Connection
from typing import Any, Union

import msgspec

from sccli.errors import EXIT_INTERNAL, ScError
from sccli.service.resources import Usage

#: Larger messages are refused (each travels as one datagram or one frame).
MAX_MESSAGE = 1 << 20


class ProtocolError(ScError):
    """A message that is not one its channel carries, or is not well formed."""

    exit_code = EXIT_INTERNAL


class _Message(msgspec.Struct, frozen=True, array_like=True, tag_field="message_type", forbid_unknown_fields=True):
    """Base of every message (frozen; encoded as ``[tag, *fields]``)."""


# -- service ↔ template ------------------------------------------------------------------------
class StartRequest(_Message, tag="start", frozen=True):
    """Service → template: fork a child for request ``request_id`` (its job socket attached).

    ``settings``: the pickled settings, None when the template's last ones still hold;
    ``payload``: the pickled request for the child (``{"kind": "run"|"cleanup", "job", ...}``)."""

    request_id: int
    job_type: str
    log_path: str
    log_cap: int
    settings: bytes | None
    payload: bytes


class Started(_Message, tag="started", frozen=True):
    """Template → service: the child of ``request_id`` runs as ``pid`` (its own process group)."""

    request_id: int
    pid: int


class StartFailed(_Message, tag="failed", frozen=True):
    """Template → service, forker → template: no child was started for ``request_id``."""

    request_id: int
    text: str


class Exited(_Message, tag="exited", frozen=True):
    """Template → service: child ``pid`` ended (negative ``code``: killed by that signal) and its
    output is in its log, whose last lines are ``last_lines``; ``usage`` is what the forker's reap
    measured (None when the forker did not reap it)."""

    pid: int
    code: int | None
    last_lines: str = ""
    usage: Usage | None = None


# -- template ↔ forker -------------------------------------------------------------------------
class ForkRequest(_Message, tag="fork", frozen=True):
    """Template → forker: fork a child (the job socket and the log pipe's write end attached)."""

    request_id: int
    job_type: str
    settings: bytes | None
    payload: bytes


class Forked(_Message, tag="forked", frozen=True):
    """Forker → template: the child of ``request_id`` is ``pid``."""

    request_id: int
    pid: int


class Ended(_Message, tag="ended", frozen=True):
    """Forker → template: the forker reaped child ``pid``."""

    pid: int
    code: int
    usage: Usage | None = None


# -- child ↔ service ---------------------------------------------------------------------------
class Progress(_Message, tag="progress", frozen=True):
    """Child → service: the handler reported progress."""

    percentage: float | None
    message: str | None


class MayPromote(_Message, tag="may_promote", frozen=True):
    """Child → service: may the attempt rename ``path`` into place (question ``number``)?"""

    number: int
    path: str


class Promote(_Message, tag="promote", frozen=True):
    """Service → child: the answer to question ``number``, after a lease-fenced heartbeat."""

    number: int
    allowed: bool


class Result(_Message, tag="result", frozen=True):
    """Child → service: the handler returned ``result`` (JSON values only)."""

    result: dict[str, Any]


class Failure(_Message, tag="error", frozen=True):
    """Child → service: the handler (or the cleanup) failed; ``kind`` is ``permanent`` or ``error``."""

    text: str
    kind: str = "error"


Outcome = Union[Result, Failure]
TemplateReply = Union[Started, StartFailed, Exited]
ForkerReply = Union[Forked, StartFailed, Ended]
ChildMessage = Union[Progress, MayPromote, Result, Failure]


class Channel(Enum):
    """The direction of a channel: what may be read on it."""

    TO_TEMPLATE = "service → template"
    FROM_TEMPLATE = "template → service"
    TO_FORKER = "template → forker"
    FROM_FORKER = "forker → template"
    FROM_CHILD = "child → service"
    TO_CHILD = "service → child"


_ENCODER = msgspec.msgpack.Encoder()
_DECODERS: dict[Channel, msgspec.msgpack.Decoder[Any]] = {
    Channel.TO_TEMPLATE: msgspec.msgpack.Decoder(StartRequest),
    Channel.FROM_TEMPLATE: msgspec.msgpack.Decoder(TemplateReply),
    Channel.TO_FORKER: msgspec.msgpack.Decoder(ForkRequest),
    Channel.FROM_FORKER: msgspec.msgpack.Decoder(ForkerReply),
    Channel.FROM_CHILD: msgspec.msgpack.Decoder(ChildMessage),
    Channel.TO_CHILD: msgspec.msgpack.Decoder(Promote),
}


def encode(message: _Message) -> bytes:
    """The bytes of ``message`` on its channel."""
    return _ENCODER.encode(message)


def decode(channel: Channel, data: bytes) -> Any:
    """The message in ``data``, read on ``channel``; :class:`ProtocolError` when it is not one of
    the messages that channel carries (unknown tag, wrong fields) or not a message at all."""
    if len(data) > MAX_MESSAGE:
        raise ProtocolError(f"{channel.value}: message too large ({len(data)} bytes)")
    try:
        return _DECODERS[channel].decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ProtocolError(f"{channel.value}: malformed message ({exc}): {bytes(data[:40])!r}") from None


def receive(conn: Connection, channel: Channel) -> Any:
    """The next message framed on ``conn`` (a 4-byte length, then the message), read on
    ``channel``: EOFError when the peer closed it, ProtocolError when it is not a message of
    ``channel`` or its frame is over :data:`MAX_MESSAGE` (which is not read)."""
    try:
        data = conn.recv_bytes(MAX_MESSAGE)
    except OSError as exc:
        if exc.args == ("bad message length",):  # what Connection says of a frame over the limit
            raise ProtocolError(f"{channel.value}: frame over {MAX_MESSAGE} bytes") from None
        raise
    return decode(channel, data)
