"""What the read paths do without a module they no longer import (issue 25) is what that module did."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from sccli.monitor.signatures import signature_id


@given(st.text(max_size=200), st.sampled_from(["", "data_validation", "file_upload"]))
def test_signature_id_is_the_sha1_prefix(signature: str, job_type: str) -> None:
    text = f"{job_type}\0{signature}".encode("utf-8", "surrogatepass")
    try:
        text.decode()
    except UnicodeDecodeError:
        return
    assert signature_id(signature, job_type) == hashlib.sha1(text).hexdigest()[:8]
