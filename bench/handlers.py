"""Handler throughput against the native tools, each case a real job through a running
``sc service run`` (fork, log pipe, store and all), run by hand:

    .venv/bin/python bench/handlers.py [--rounds 3] [--mb 200] [--conv-mb 512,2048] [--only archives|conversion]
                                       [--no-file-checksums] [--no-zip] [--compression-threads N]
    .venv/bin/python bench/handlers.py --large 4096 [--memory-limit-mb 1024]

Cases, on generated data (half random, half text-like for the archives; uint16 1024² slices, a
gradient with noise, for the conversion):
- data_compression (tar.zst, level 3) vs ``tar --zstd -cf``;
- file_extraction of a .tar.zst vs ``tar --zstd -xf``, of a .zip vs ``unzip``;
- dataset_conversion of a TIFF stack vs OpenVisus called directly (``bench/ov_direct.py``).
Each round runs the job and the native tool one after the other (the order alternates), so both
see the same machine load; printed per round, then the medians, the ratio (native time / job
time: above 1 the job is faster) and the peak RSS of the job's child tree and of the tool's
(sampled every 20 ms, and the processes' own high-water marks). The load average is printed at
the start and the end. ``--large MB`` converts one stack of that size (with the service's
``memory_limit_mb_by_type`` for conversions when ``--memory-limit-mb`` is given) and prints MB/s
and the peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MB = 1024 * 1024


class PeakRss:
    """Samples the RSS of a process tree (the roots ``pids()`` names, and their descendants)
    until stopped; ``peak_mb``: the largest sum seen, or a process's own high-water mark."""

    def __init__(self, pids: Callable[[], list[int]]) -> None:
        self.pids, self.peak, self.stop = pids, 0, threading.Event()
        self.cpu: dict[int, float] = {}  # the last CPU seconds seen of each process of the tree
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(0.05):
            total = 0
            for pid in self.pids():
                for proc_pid in [pid, *descendants(pid)]:
                    try:
                        proc = psutil.Process(proc_pid)
                        total += proc.memory_info().rss
                        times = proc.cpu_times()
                        self.cpu[proc.pid] = times.user + times.system
                        self.peak = max(self.peak, high_water(proc.pid))
                    except psutil.Error:
                        continue
            self.peak = max(self.peak, total)

    def done(self) -> float:
        self.stop.set()
        self.thread.join()
        return self.peak / MB

    @property
    def cpu_seconds(self) -> float:
        return sum(self.cpu.values())


def descendants(pid: int) -> list[int]:
    """The live descendants of ``pid`` from ``/proc/<pid>/task/*/children`` (psutil's
    ``children(recursive=True)`` reads every process of the host, every 20 ms: on a busy host
    that took CPU from the run being measured)."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{parent}/task/{task}/children") as fh:
                    kids = [int(k) for k in fh.read().split()]
            except OSError:
                continue
            found += kids
            todo += kids
    return found


def high_water(pid: int) -> int:
    """VmHWM of a process in bytes (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_native(cmd: list[str], cwd: Path | None = None) -> tuple[float, float, float]:
    """Run a tool; its wall time, peak RSS (MB) and CPU seconds (its own and its children's)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL)
    sampler = PeakRss(lambda: [proc.pid])
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed with exit code {proc.returncode}")
    return wall, sampler.done(), usage.ru_utime + usage.ru_stime


class Service:
    """One ``sc service run`` (one worker slot) on a SQLite store, and a queue to feed it."""

    def __init__(self, work: Path, extra: dict[str, Any]) -> None:
        from sccli.queue import JobQueue
        from sccli.store import open_store

        self.work = work
        self.dirs = {
            key: work / key.split("_")[0] for key in ("in_data_dir", "out_data_dir", "sync_data_dir", "auth_dir")
        }
        for path in self.dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        settings = {key: str(path) for key, path in self.dirs.items()}
        settings.update(
            log_dir=str(work / "logs"), workers=1, poll_interval_seconds=0.02, heartbeat_seconds=2.0, **extra
        )
        (work / "settings.json").write_text(json.dumps(settings))
        db = f"sqlite:///{work / 'bench.db'}"
        self.queue = JobQueue(open_store(db))
        self.log = (work / "service.log").open("ab")
        cmd = [sys.executable, "-m", "sccli", "--db", db, "service", "run", str(work / "settings.json")]
        self.proc = subprocess.Popen(cmd, stderr=self.log, stdout=subprocess.DEVNULL, cwd=ROOT)

    def dataset(self) -> str:
        from sccli.datasets import add_dataset

        return str(add_dataset(self.queue.store, str(uuid.uuid4()), "bench", "submitted")["uuid"])

    def run(self, dataset: str, job_type: str, **params: Any) -> tuple[float, float, dict[str, Any]]:
        """Create a job and wait for it: wall time (creation to completion), peak RSS (MB) of its
        child tree, and the job."""
        pid: list[int] = []
        started = time.perf_counter()
        job_id = self.queue.create_job(dataset, job_type, params, max_attempts=1)
        sampler = PeakRss(lambda: pid)
        while True:
            job = self.queue.get_job(job_id)
            if not pid and job.get("pid"):
                pid.append(int(job["pid"]))
            if job["status"] in ("completed", "failed", "cancelled"):
                break
            if self.proc.poll() is not None:
                raise SystemExit(f"the service stopped; see {self.work / 'service.log'}")
            time.sleep(0.02)  # completion is seen within 20 ms (the job's own times are printed beside it)
        wall = time.perf_counter() - started
        peak = sampler.done()
        # the attempt's own record (wait4 of the job's tree, reaped children included) is exact; the
        # sampler misses what a process used after its last sample
        recorded = (job.get("resources") or [{}])[-1].get("cpu_seconds")
        job["bench_cpu_seconds"] = recorded if recorded is not None else sampler.cpu_seconds
        if job["status"] != "completed":
            raise SystemExit(f"{job_type} job {job['status']}: {job.get('error')}")
        return wall, peak, job

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)
        self.log.close()


def make_files(root: Path, total_mb: int) -> int:
    """``total_mb`` MB in 4 MB files: random and text-like halves, so compression does real work."""
    root.mkdir(parents=True)
    words = b"scientist cloud openvisus idx dataset conversion volume slice probe ".split()
    text = b" ".join(words[i % len(words)] + str(i).encode() for i in range(600_000))[: 4 * MB]
    for i in range(total_mb // 4):
        (root / f"sub{i % 5}").mkdir(exist_ok=True)
        (root / f"sub{i % 5}" / f"part{i:03d}.bin").write_bytes(os.urandom(4 * MB) if i % 2 else text)
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def make_stack(root: Path, total_mb: int) -> int:
    """A TIFF stack of uint16 1024×1024 slices (2 MB each): a gradient with 6 bits of noise."""
    import numpy as np
    import tifffile

    root.mkdir(parents=True)
    base = (np.add.outer(np.arange(1024), np.arange(1024)) * 16).astype(np.uint16)
    noise = np.random.default_rng(0).integers(0, 64, base.shape, dtype=np.uint16)
    slices = max(1, total_mb // 2)
    for i in range(slices):
        tifffile.imwrite(root / f"slice_{i:05d}.tif", base + np.roll(noise, i * 37) + (i & 0xFF))
    return slices * base.nbytes


class Case:
    """One comparison: the job and the tool, round after round, with a reset before each run."""

    def __init__(self, name: str, tool: str, nbytes: int) -> None:
        self.name, self.tool, self.nbytes = name, tool, nbytes
        self.ours: list[tuple[float, float, float]] = []
        self.native: list[tuple[float, float, float]] = []
        self.handler: list[float] = []

    def round(
        self, number: int, ours: Callable[[], tuple[float, float, dict[str, Any]]],
        native: Callable[[], tuple[float, float, float]],
    ) -> None:
        """One run of each (the order alternates per round); the job's handler time is printed too."""
        def run_ours() -> None:
            wall, peak, job = ours()
            self.ours.append((wall, peak, float(job["bench_cpu_seconds"])))
            self.handler.append(float((job.get("result") or {}).get("duration_seconds") or 0.0))

        order = [run_ours, lambda: self.native.append(native())]
        for action in order if number % 2 == 0 else reversed(order):
            action()
        (t_o, m_o, c_o), (t_n, m_n, c_n) = self.ours[-1], self.native[-1]
        print(
            f"  round {number + 1}: job {self.mbps(t_o):7.1f} MB/s ({t_o:6.2f}s, handler "
            f"{self.handler[-1]:6.2f}s, cpu {c_o:6.2f}s, "
            f"{m_o:6.0f} MB)   {self.tool} {self.mbps(t_n):7.1f} MB/s ({t_n:6.2f}s, cpu {c_n:6.2f}s, {m_n:6.0f} MB)   "
            f"ratio {t_n / t_o:4.2f}x   load {os.getloadavg()[0]:.1f}",
            flush=True,
        )

    def mbps(self, seconds: float) -> float:
        return self.nbytes / 1e6 / seconds

    def summary(self) -> None:
        t_o, t_n = (statistics.median(run[0] for run in runs) for runs in (self.ours, self.native))
        c_o, c_n = (statistics.median(run[2] for run in runs) for runs in (self.ours, self.native))
        ratios = sorted(n[0] / o[0] for o, n in zip(self.ours, self.native, strict=True))
        handler = statistics.median(self.handler)
        print(
            f"{self.name:<28} job {self.mbps(t_o):7.1f} MB/s, peak "
            f"{max(run[1] for run in self.ours):6.0f} MB | {self.tool:<18} "
            f"{self.mbps(t_n):7.1f} MB/s, peak {max(run[1] for run in self.native):6.0f} MB | "
            f"median ratio {t_n / t_o:4.2f}x "
            f"(rounds {', '.join(f'{r:.2f}' for r in ratios)}); handler alone {t_n / handler:4.2f}x; "
            f"CPU s {c_o:.2f} vs {c_n:.2f}",
            flush=True,
        )


def reset(*paths: Path) -> None:
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def bench_archives(service: Service, work: Path, total_mb: int, rounds: int, compress_params: dict[str, Any],
                   skip_zip: bool = False) -> None:
    dataset = service.dataset()
    source = service.dirs["in_data_dir"] / dataset
    nbytes = make_files(source, total_mb)
    out = service.dirs["out_data_dir"]
    ours_archive, native_archive = out / f"{dataset}.tar.zst", work / "native.tar.zst"
    label = "" if compress_params.get("file_checksums", True) else ", no file checksums"
    compress = Case(f"compress tar.zst {total_mb} MB{label}", "tar --zstd -c", nbytes)
    for number in range(rounds):
        def ours() -> tuple[float, float, dict[str, Any]]:
            reset(ours_archive, out / f"{dataset}.tar.zst.manifest.json")
            return service.run(dataset, "data_compression", **compress_params)

        def native() -> tuple[float, float, float]:
            reset(native_archive)
            return run_native(["tar", "--zstd", "-cf", str(native_archive), "-C", str(source.parent), dataset])

        compress.round(number, ours, native)
    sync = service.dirs["sync_data_dir"]
    zip_path = sync / "data.zip"
    if not skip_zip:  # deflating the zip takes minutes on a busy host
        with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            for path in sorted(source.rglob("*.bin")):
                zf.write(path, path.relative_to(source.parent).as_posix())
    shutil.copy(ours_archive, sync / "data.tar.zst")
    cases = [compress]
    for name, native_cmd in (("data.tar.zst", ["tar", "--zstd", "-xf"]), ("data.zip", ["unzip", "-q", "-o"])):
        if name.endswith(".zip") and skip_zip:
            continue
        cases.append(bench_extraction(service, work, dataset, sync / name, native_cmd, nbytes, rounds))
    reset(source, ours_archive, native_archive, zip_path, sync / "data.tar.zst")
    for case in cases:
        case.summary()


def bench_extraction(
    service: Service, work: Path, dataset: str, archive: Path, native_cmd: list[str], nbytes: int, rounds: int
) -> Case:
    case = Case(f"extract {archive.name.split('.', 1)[1]} {nbytes // MB} MB", " ".join(native_cmd[:2]), nbytes)
    dest, native_dest = service.dirs["out_data_dir"] / "extracted", work / "native-extracted"

    def ours() -> tuple[float, float, dict[str, Any]]:
        reset(dest)
        return service.run(dataset, "file_extraction", archive_path=str(archive), destination=str(dest))

    def native() -> tuple[float, float, float]:
        reset(native_dest)
        native_dest.mkdir()
        target = ["-d", str(native_dest)] if native_cmd[0] == "unzip" else ["-C", str(native_dest)]
        return run_native([*native_cmd, str(archive), *target])

    for number in range(rounds):
        case.round(number, ours, native)
    reset(dest, native_dest)
    return case


def bench_conversion(service: Service, work: Path, total_mb: int, rounds: int) -> None:
    dataset = service.dataset()
    source = service.dirs["in_data_dir"] / dataset
    nbytes = make_stack(source, total_mb)
    out, direct = service.dirs["out_data_dir"] / dataset, work / "direct"
    case = Case(f"convert TIFF stack {total_mb} MB", "OpenVisus direct", nbytes)
    for number in range(rounds):
        def ours() -> tuple[float, float, dict[str, Any]]:
            reset(out)
            return service.run(dataset, "dataset_conversion", sensor_type="TIFF")

        def native() -> tuple[float, float, float]:
            reset(direct)
            direct.mkdir()
            return run_native([sys.executable, str(ROOT / "bench" / "ov_direct.py"), str(source), str(direct)])

        case.round(number, ours, native)
    reset(source, out, direct)
    case.summary()


def bench_large(service: Service, total_mb: int) -> None:
    dataset = service.dataset()
    source = service.dirs["in_data_dir"] / dataset
    nbytes = make_stack(source, total_mb)
    print(f"generated {nbytes / 1e9:.2f} GB; converting", flush=True)
    wall, peak, job = service.run(dataset, "dataset_conversion", sensor_type="TIFF")
    used = (job.get("resources") or [{}])[-1]
    limit = used.get("memory_limit_bytes")
    output = job["result"].get("output_bytes", 0) / 1e9
    print(f"large conversion {nbytes / 1e9:.2f} GB: {nbytes / 1e6 / wall:.1f} MB/s ({wall:.0f}s), "
          f"peak RSS of the job {peak:.0f} MB (on record {used.get('peak_rss_bytes', 0) / MB:.0f} MB, "
          f"limit {f'{limit // MB} MB' if limit else 'none'}), CPU {used.get('cpu_seconds', 0):.1f} s, "
          f"output {output:.2f} GB", flush=True)
    reset(source, service.dirs["out_data_dir"] / dataset)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="archive cases: MB of files")
    parser.add_argument("--conv-mb", default="512", help="conversion cases: MB of TIFF stack, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--no-file-checksums", action="store_true", help="compression without the per-file sha256 (tar has none)"
    )
    parser.add_argument("--no-zip", action="store_true", help="archives: only the tar.zst cases")
    parser.add_argument("--only", choices=("archives", "conversion"))
    parser.add_argument("--large", type=int, metavar="MB", help="only: convert one stack of MB megabytes")
    parser.add_argument(
        "--memory-limit-mb", type=int, help="--large: the service's memory_limit_mb_by_type for conversions"
    )
    parser.add_argument("--conversion-workers", type=int, help="settings.conversion_workers (default: every core)")
    parser.add_argument("--compression-threads", type=int, help="settings.compression_threads (default: every core)")
    parser.add_argument("--zip-level", type=int, help="settings.conversion_zip_level (default: 1; -1: OpenVisus' own)")
    parser.add_argument("--zip-engine", choices=("isal", "zlib"), help="settings.conversion_zip_engine (default: isal)")
    parser.add_argument("--work", help="work directory (default: a new one under the system's temp dir)")
    args = parser.parse_args()
    for tool in ("tar", "zstd", "unzip"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (scripts/install-tools.sh)")
    work = Path(tempfile.mkdtemp(prefix="sccli-bench-", dir=args.work))
    extra: dict[str, Any] = {}
    if args.conversion_workers is not None:
        extra["conversion_workers"] = args.conversion_workers
    if args.compression_threads is not None:
        extra["compression_threads"] = args.compression_threads
    if args.zip_level is not None:
        extra["conversion_zip_level"] = args.zip_level
    if args.zip_engine is not None:
        extra["conversion_zip_engine"] = args.zip_engine
    if args.memory_limit_mb:
        extra["memory_limit_mb_by_type"] = {"dataset_conversion": args.memory_limit_mb}
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}: {os.cpu_count()} cores, load average {os.getloadavg()}, "
          f"{args.rounds} interleaved rounds, work dir {work}", flush=True)
    service = Service(work, extra)
    try:
        if args.large:
            bench_large(service, args.large)
            return
        if args.only != "conversion":
            params = {"file_checksums": False} if args.no_file_checksums else {}
            bench_archives(service, work, args.mb, args.rounds, params, skip_zip=args.no_zip)
        if args.only != "archives":
            for total_mb in (int(n) for n in args.conv_mb.split(",")):
                bench_conversion(service, work, total_mb, args.rounds)
    finally:
        service.close()
        shutil.rmtree(work, ignore_errors=True)
        print(f"load average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
