"""Handler throughput against the native tools, run by hand: ``.venv/bin/python bench/handlers.py``.

On the same ~200 MB of generated data (half random, half compressible text):
- data_compression (tar.zst, level 3) vs ``tar --zstd -cf``;
- file_extraction of a .zip vs ``unzip``, of a .tar.zst vs ``tar --zstd -xf``;
- dataset_conversion of a 200 MB TIFF stack vs calling OpenVisus directly (read the stack,
  CreateIdx, write, compressDataset).
Prints MB/s (input bytes per second) and the ratio to the native tool; targets: >= 0.8x the
native tools, conversion overhead <= 10 %. Options: ``--mb N`` (default 200), ``--repeat N``
(best of N, default 2), ``--keep`` (keep the work directory), ``--only archives|conversion``.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import shutil
import subprocess
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sccli.handlers import resolve_handler
from sccli.handlers.base import JobContext
from sccli.settings import Settings

CPU: dict[float, float] = {}


def _cpu() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def best_of(repeat: int, setup: Callable[[], None], action: Callable[[], Any]) -> float:
    """The best wall time of ``repeat`` runs (its CPU seconds, all threads and children, in CPU)."""
    times = []
    for _ in range(repeat):
        setup()
        cpu, started = _cpu(), time.perf_counter()
        action()
        wall = time.perf_counter() - started
        CPU[wall] = _cpu() - cpu
        times.append(wall)
    return min(times)


def make_files(root: Path, total_mb: int) -> int:
    """``total_mb`` MB in 4 MB files: random and text-like halves, so compression does real work."""
    root.mkdir(parents=True)
    words = b"scientist cloud openvisus idx dataset conversion volume slice probe ".split()
    text = b" ".join(words[i % len(words)] + str(i).encode() for i in range(600_000))[: 4 * 1024 * 1024]
    for i in range(total_mb // 4):
        data = os.urandom(4 * 1024 * 1024) if i % 2 else text
        (root / f"sub{i % 5}").mkdir(exist_ok=True)
        (root / f"sub{i % 5}" / f"part{i:03d}.bin").write_bytes(data)
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


class Bench:
    def __init__(self, work: Path, repeat: int) -> None:
        self.work, self.repeat = work, repeat
        self.settings = Settings(in_data_dir=str(work / "in"), out_data_dir=str(work / "out"), sync_data_dir=str(work / "sync"), auth_dir=str(work))
        for d in ("in", "out", "sync"):
            (work / d).mkdir(parents=True, exist_ok=True)
        self.log = logging.getLogger("bench")

    def handler(self, job_type: str, dataset: str, **params: Any) -> dict[str, Any]:
        job = {"job_id": str(uuid.uuid4()), "dataset_uuid": dataset, "job_type": job_type, "parameters": params}
        return resolve_handler(job_type, self.settings)(JobContext(job=job, settings=self.settings, log=self.log))

    def row(self, name: str, nbytes: int, ours: float, native: float, native_name: str) -> None:
        mb = nbytes / 1e6
        print(f"{name:<26} sccli {mb / ours:7.1f} MB/s ({ours:5.2f}s, cpu {CPU[ours]:5.2f}s)   {native_name:<16} {mb / native:7.1f} MB/s "
              f"({native:5.2f}s, cpu {CPU[native]:5.2f}s)   ratio {native / ours:4.2f}x", flush=True)


def bench_archives(b: Bench, total_mb: int) -> None:
    dataset = str(uuid.uuid4())
    source = b.work / "in" / dataset
    nbytes = make_files(source, total_mb)
    out = b.work / "out"
    archive = out / f"{dataset}.tar.zst"
    native_archive = b.work / "native.tar.zst"
    clear = lambda: [p.unlink() for p in (archive, native_archive, out / f"{dataset}.tar.zst.manifest.json") if p.exists()]  # noqa: E731
    ours = best_of(b.repeat, clear, lambda: b.handler("data_compression", dataset))
    ours_nosum = best_of(b.repeat, clear, lambda: b.handler("data_compression", dataset, file_checksums=False))
    native = best_of(b.repeat, clear, lambda: subprocess.run(["tar", "--zstd", "-cf", str(native_archive), "-C", str(source.parent), dataset], check=True))
    b.row("compress tar.zst", nbytes, ours, native, "tar --zstd -c")
    b.row("compress tar.zst, no sums", nbytes, ours_nosum, native, "tar --zstd -c")
    b.handler("data_compression", dataset)

    zip_path = b.work / "sync" / "data.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for path in sorted(source.rglob("*.bin")):
            zf.write(path, path.relative_to(source.parent).as_posix())
    shutil.copy(archive, b.work / "sync" / "data.tar.zst")
    for name, native_cmd in (("data.zip", ["unzip", "-q", "-o"]), ("data.tar.zst", ["tar", "--zstd", "-xf"])):
        bench_extraction(b, dataset, b.work / "sync" / name, native_cmd, nbytes)
    shutil.rmtree(source)


def bench_extraction(b: Bench, dataset: str, src: Path, native_cmd: list[str], nbytes: int) -> None:
    dest = b.work / "out" / "extracted"
    native_dest = b.work / "native-extracted"

    def reset() -> None:
        for d in (dest, native_dest):
            shutil.rmtree(d, ignore_errors=True)

    def native_setup() -> None:
        reset()
        native_dest.mkdir()

    ours = best_of(b.repeat, reset, lambda: b.handler("file_extraction", dataset, archive_path=str(src), destination=str(dest)))
    target = ["-d", str(native_dest)] if native_cmd[0] == "unzip" else ["-C", str(native_dest)]
    native = best_of(b.repeat, native_setup, lambda: subprocess.run([*native_cmd, str(src), *target], check=True))
    b.row(f"extract {src.name.split('.', 1)[1]}", nbytes, ours, native, " ".join(native_cmd[:2]))
    reset()


def bench_conversion(b: Bench, total_mb: int) -> None:
    import numpy as np
    import OpenVisus as ov
    import tifffile

    dataset = str(uuid.uuid4())
    source = b.work / "in" / dataset
    source.mkdir()
    slices = max(1, total_mb * 1024 * 1024 // (1024 * 1024 * 2))
    rng = np.random.default_rng(0)
    base = (np.add.outer(np.arange(1024), np.arange(1024)) * 16).astype(np.uint16)
    for i in range(slices):
        tifffile.imwrite(source / f"slice_{i:04d}.tif", base + rng.integers(0, 64, base.shape, dtype=np.uint16))
    nbytes = slices * base.nbytes
    direct_dir = b.work / "direct"

    def direct() -> None:
        files = sorted(source.glob("*.tif"))
        data = np.stack([tifffile.imread(f) for f in files])
        db = ov.CreateIdx(url=str(direct_dir / "visus.idx"), dims=list(reversed(data.shape)), fields=[ov.Field("data", "uint16")])
        db.write(data)
        db.compressDataset(["zip"])

    out = b.work / "out" / dataset
    ours = best_of(b.repeat, lambda: shutil.rmtree(out, ignore_errors=True), lambda: b.handler("dataset_conversion", dataset, sensor_type="TIFF"))
    native = best_of(b.repeat, lambda: shutil.rmtree(direct_dir, ignore_errors=True), direct)
    b.row("convert TIFF stack to IDX", nbytes, ours, native, "OpenVisus direct")
    print(f"{'':<28} conversion overhead {100 * (ours / native - 1):+.1f} % (target <= 10 %)")
    full = best_of(1, lambda: shutil.rmtree(out, ignore_errors=True), lambda: b.handler("dataset_conversion", dataset, sensor_type="TIFF", conversion_params={"verify": "full"}))
    print(f"{'':<28} with verify=full: {full:.2f}s ({100 * (full / native - 1):+.1f} %)")
    shutil.rmtree(source)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--only", choices=("archives", "conversion"), help="Run one half of the bench.")
    args = parser.parse_args()
    for tool in ("tar", "zstd", "unzip"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (scripts/install-tools.sh)")
    work = Path(tempfile.mkdtemp(prefix="sccli-bench-"))
    print(f"work dir {work}, {args.mb} MB, best of {args.repeat}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    try:
        b = Bench(work, args.repeat)
        if args.only != "conversion":
            bench_archives(b, args.mb)
        if args.only != "archives":
            bench_conversion(b, args.mb)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
