from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.notify.receiver import Receiver, serve


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from serve()


from tests.service.conftest import services  # noqa: E402, F401 (the real-process service fixture)
