"""Wall time of the ``sc`` CLI's start-up and read commands on a small SQLite store (run by hand).

    .venv/bin/python bench/cli.py [--runs 15] [--jobs 10000] [--farm] [--vs OTHER_SC]

Seeds a fresh SQLite store (5 datasets, 20 jobs, a few events) in a temporary directory, then
times each command as a whole process (interpreter start-up included) and prints the median,
best and worst of ``--runs`` runs, with the load average before and after. ``--farm`` times
each command with ``farm-bench`` instead of this script's own loop (when it is installed).
``--vs /path/to/other/sc`` times another installation's ``sc`` too (e.g. the main worktree's),
run for run in turn with this one, and prints both medians and their ratio.
``--jobs N`` adds N finished jobs (bench/monitor.py's rows) so the reads run on a fleet-sized store.
Each line also shows the median user+sys CPU of the child (less affected by the machine's load
than wall time) and how many modules it imports (``-X importtime``).
Targets (issue 15): ``sc --help`` ≤ 50 ms, every read command ≤ 100 ms median; issue 25: the read
commands ≤ 50 ms and ``monitor report --days 7`` ≤ 80 ms on a 10,000-job store.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SC = str(Path(sys.executable).with_name("sc"))
HELP_TARGET_MS, READ_TARGET_MS, REPORT_TARGET_MS = 50.0, 50.0, 80.0
DATASETS, JOBS_PER_DATASET = 5, 4


def seed(env: dict[str, str]) -> tuple[str, str]:
    """A small store through the library: datasets, jobs, one failed; (a job id, a dataset uuid)."""
    code = (
        "import uuid, sys\n"
        "from sccli import open_store, add_dataset, JobQueue\n"
        "from sccli.settings import Settings\n"
        "store = open_store()\n"
        "queue = JobQueue.from_settings(store, Settings(), check_paths=False)\n"
        "job = ds = ''\n"
        f"for d in range({DATASETS}):\n"
        "    ds = str(uuid.uuid4()); add_dataset(store, ds, f'scan-{d}')\n"
        "    for t in ['dataset_conversion', 'data_validation', 'data_compression', "
        f"'backup_creation'][:{JOBS_PER_DATASET}]:\n"
        "        job = queue.create_job(ds, t)\n"
        "print(job, ds)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
    ).stdout.split()
    return out[0], out[1]


CPU: dict[str, list[float]] = {}  # command line -> user+sys ms of each run


def timed(cmd: list[str], env: dict[str, str], runs: int) -> list[float]:
    subprocess.run(cmd, env=env, check=True, capture_output=True)  # warm-up (page cache, .pyc)
    samples = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        samples.append((time.perf_counter() - start) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
        CPU.setdefault(" ".join(cmd), []).append(cpu)
    return samples


def cpu_ms(cmd: list[str]) -> float:
    return statistics.median(CPU.get(" ".join(cmd)) or [0.0])


def import_count(cmd: list[str], env: dict[str, str]) -> int:
    """How many modules ``cmd`` imports (a Python command: its interpreter runs with ``-X importtime``)."""
    full = (
        [sys.executable, "-X", "importtime", *cmd[1:]]
        if cmd[0] == sys.executable
        else [
            sys.executable, "-X", "importtime", "-c",
            "import sys; from sccli.cli import main; sys.argv[0] = 'sc'; main()", *cmd[1:],
        ]
    )
    err = subprocess.run(full, env=env, capture_output=True, text=True).stderr
    return sum(1 for line in err.splitlines() if line.startswith("import time:")) - 1  # the header line


def fill_jobs(env: dict[str, str], jobs: int) -> None:
    """``jobs`` finished jobs over 90 days, written as bench/monitor.py writes them."""
    code = (
        "import sys; sys.path.insert(0, 'bench')\n"
        "from monitor import fill\n"
        "from sccli.store import open_store\n"
        f"store = open_store(); store.ensure_schema(); fill(store, {jobs})\n"
    )
    subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, cwd=Path(__file__).parent.parent
    )


def timed_pair(cmd: list[str], other: list[str], env: dict[str, str], runs: int) -> tuple[list[float], list[float]]:
    """``cmd`` and ``other`` in turn (A B A B ...), so a change in the machine's load hits both."""
    mine: list[float] = []
    theirs: list[float] = []
    for _ in range(runs):
        mine += timed(cmd, env, 1)
        theirs += timed(other, env, 1)
    return mine, theirs


def farm(cmd: list[str], env: dict[str, str], runs: int) -> str:
    """farm-bench's own report line for the wall time (it times from outside, like ``timed``)."""
    out = subprocess.run(["farm-bench", "-n", str(runs), "--", *cmd], env=env, capture_output=True, text=True)
    lines = [line.strip() for line in (out.stdout + out.stderr).splitlines() if "wall" in line]
    return lines[0] if lines else (out.stdout + out.stderr).strip().splitlines()[-1]


def commands(job: str, dataset: str) -> list[tuple[str, list[str], float | None]]:
    return [
        ("python -c pass", [sys.executable, "-c", "pass"], None),
        ("python -S -c pass", [sys.executable, "-S", "-c", "pass"], None),
        ("sc --help", [SC, "--help"], HELP_TARGET_MS),
        ("sc --version", [SC, "--version"], HELP_TARGET_MS),
        ("sc job --help", [SC, "job", "--help"], READ_TARGET_MS),
        ("sc job show ID", [SC, "job", "show", job], READ_TARGET_MS),
        ("sc job list", [SC, "job", "list"], READ_TARGET_MS),
        ("sc dataset show UUID", [SC, "dataset", "show", dataset], READ_TARGET_MS),
        ("sc monitor overview", [SC, "monitor", "overview"], READ_TARGET_MS),
        ("sc monitor report -d 7", [SC, "monitor", "report", "--days", "7"], REPORT_TARGET_MS),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--jobs", type=int, default=10_000, help="finished jobs added to the store (0: the 20 seeded only)"
    )
    parser.add_argument("--farm", action="store_true", help="time with farm-bench instead of this script's loop")
    parser.add_argument("--vs", help="another sc to time in turn with this one (e.g. /work/main/.venv/bin/sc)")
    args = parser.parse_args()
    if args.farm and not shutil.which("farm-bench"):
        raise SystemExit("Error: farm-bench is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "SC_DB_URL": f"sqlite:///{Path(tmp) / 'cli.db'}", "XDG_DATA_HOME": tmp, "NO_COLOR": "1"}
        env.pop("MONGO_URL", None)
        # A user's sc writes its .pyc files; without them every edited module is compiled at each start.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        job, dataset = seed(env)
        if args.jobs:
            fill_jobs(env, args.jobs)
        print(
            f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}   ({args.runs} runs each, wall ms)"
        )
        for label, cmd, target in commands(job, dataset):
            if args.farm:
                print(f"{label:22s} {farm(cmd, env, args.runs)}")
                continue
            if args.vs and cmd[0] == SC:
                samples, other = timed_pair(cmd, [args.vs, *cmd[1:]], env, args.runs)
                median, theirs = statistics.median(samples), statistics.median(other)
                print(
                    f"{label:22s} median {median:6.1f}   vs {theirs:6.1f}  ({median / theirs:4.2f}x)   best "
                    f"{min(samples):6.1f} / {min(other):6.1f}"
                    f"   cpu {cpu_ms(cmd):5.1f} / {cpu_ms([args.vs, *cmd[1:]]):5.1f}"
                )
                continue
            samples = timed(cmd, env, args.runs)
            median = statistics.median(samples)
            verdict = "" if target is None else ("  ok" if median <= target else f"  over the {target:.0f} ms target")
            print(f"{label:22s} median {median:6.1f}   best {min(samples):6.1f}   worst {max(samples):6.1f}"
                  f"   cpu {cpu_ms(cmd):5.1f}   imports {import_count(cmd, env):4d}{verdict}")
        print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
