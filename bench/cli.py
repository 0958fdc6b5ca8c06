"""Wall time of `sc --help` and `sc job show` (median of N runs; run by hand).

    .venv/bin/python bench/cli.py [--runs 15]

Target: `sc --help` under 150 ms median.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SC = str(Path(sys.executable).with_name("sc"))


def timed(cmd: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), min(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "SC_DB_URL": f"sqlite:///{Path(tmp) / 'cli.db'}"}
        ds = subprocess.run([SC, "dataset", "add"], env=env, check=True, capture_output=True, text=True).stdout.strip()
        job = subprocess.run([SC, "job", "create", "-d", ds, "-t", "dataset_conversion"], env=env, check=True, capture_output=True, text=True).stdout.strip()
        for label, cmd in (("sc --help", [SC, "--help"]), ("sc job show", [SC, "job", "show", job]), ("python -c pass", [sys.executable, "-c", "pass"])):
            median, best = timed(cmd, env, args.runs)
            print(f"{label:15s} median {median:6.1f} ms   best {best:6.1f} ms   ({args.runs} runs)")


if __name__ == "__main__":
    main()
