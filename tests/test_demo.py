"""`make demo` keeps working: the demo script runs the main job end to end on the embedded store
(its own checks read the IDX files back and compare them with their sources)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_demo_runs_end_to_end(tmp_path: Path) -> None:
    pytest.importorskip("OpenVisus", reason="the demo converts with OpenVisus (the formats extra)")
    env = {**os.environ, "SC_DEMO_DIR": str(tmp_path / "demo-data"), "PYTHONPATH": str(ROOT)}
    for name in ("SC_DB_URL", "MONGO_URL", "DB_NAME"):
        env.pop(name, None)
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "demo.py")], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=240)
    assert out.returncode == 0, (out.stdout[-2000:], out.stderr[-3000:])
    assert (tmp_path / "demo-data" / "demo.db").exists()
