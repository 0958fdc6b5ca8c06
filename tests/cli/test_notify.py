"""``sc notify test``: exit 0 on a 2xx, one ``Error:`` line and a non-zero exit otherwise."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.notify.receiver import Receiver, serve


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from serve()


def settings(tmp_path: Path, *targets: dict[str, Any]) -> str:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"notify": {"targets": list(targets)}}))
    return str(path)


def test_a_sample_reaches_the_named_target_signed(sc: Any, tmp_path: Path, receiver: Receiver) -> None:
    path = settings(
        tmp_path,
        {"name": "ops", "url": receiver.url, "secret": "k"},
        {"name": "chat", "url": receiver.url, "format": "slack"},
    )
    result = sc("--settings", path, "notify", "test", "--target", "ops")
    assert result.exit_code == 0, result.output
    assert "sent to ops: HTTP 200" in result.stdout
    [request] = receiver.requests
    assert request.doc["event"] == "test" and receiver.verified("k", request)
    assert sc("--settings", path, "notify", "test").exit_code == 0
    assert len(receiver.requests) == 3 and receiver.requests[-1].doc["text"].startswith("*sccli test")


def test_a_failing_target_is_one_error_line(sc: Any, tmp_path: Path, receiver: Receiver) -> None:
    receiver.statuses = [500]
    path = settings(tmp_path, {"name": "ops", "url": receiver.url})
    result = sc("--settings", path, "notify", "test")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == ["Error: notification not delivered to ops: HTTP 500"]
    assert len(receiver.requests) == 1  # a test is sent once, not retried


@pytest.mark.parametrize(
    ("notify", "args", "code", "words"),
    [
        (None, (), 2, "notify is not set"),
        ({"targets": [{"name": "ops", "url": "http://127.0.0.1:9/"}]}, ("--target", "nope"), 4, "no notify target"),
        ({"targets": [{"name": "ops", "url": "file:///etc/passwd"}]}, (), 2, "http:// or https:// URL"),
        ({"targets": [{"name": "a", "url": "http://x/"}, {"name": "a", "url": "http://y/"}]}, (), 2, "unique"),
        ({"targets": []}, (), 2, "notify.targets"),
        (
            {"targets": [{"name": "a", "url": "http://x/"}], "events": ["bogus"]}, (), 2,
            "notify.events[0] must be one of",
        ),
        ({"targets": [{"name": "a", "url": "http://x/", "format": "xml"}]}, (), 2, "notify.targets[0].format"),
    ],
)
def test_bad_settings_or_target(
    sc: Any, tmp_path: Path, notify: Any, args: tuple[str, ...], code: int, words: str
) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"notify": notify} if notify is not None else {}))
    result = sc("--settings", str(path), "notify", "test", *args)
    assert result.exit_code == code
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and words in lines[0], lines


def test_a_refused_connection_is_one_error_line(sc: Any, tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = settings(tmp_path, {"name": "ops", "url": f"http://127.0.0.1:{port}/"})
    result = sc("--settings", path, "notify", "test")
    assert result.exit_code == 1 and result.stderr.startswith("Error: notification not delivered to ops:")
