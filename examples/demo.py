"""`make demo`: convert a real example dataset to OpenVisus IDX end to end.

Everything lives under ./demo-data (a fresh SQLite store, the data directories, settings.json),
so it never touches a real store. Steps: generate a small TIFF stack (and a small HDF5 volume for
a second, Drive-synced dataset), register both datasets, create a dataset_conversion job and a
google_sync job (synced through an rclone local remote: the demo has no Google account), run
`sc service run settings.json --until-idle`, then show both datasets `done` and read the IDX
files back (dims and a checksum compared with the source data).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("SC_DEMO_DIR") or ROOT / "demo-data")  # tests run it in a directory of their own
DB_URL = f"sqlite:///{DATA / 'demo.db'}"
DIRS = {"in_data_dir": "upload", "out_data_dir": "converted", "sync_data_dir": "sync", "auth_dir": "auth", "backup_dir": "backup", "log_dir": "logs"}


def sc(*args: str, show: bool = True) -> str:
    cmd = [sys.executable, "-m", "sccli", "--db", DB_URL, *args]
    print("$ sc " + " ".join(args), flush=True)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    if show:
        print(out, end="", flush=True)
    return out.strip()


def write_settings() -> Path:
    settings = {key: str(DATA / name) for key, name in DIRS.items()}
    for path in settings.values():
        Path(path).mkdir(parents=True, exist_ok=True)
    settings.update(db_name="scientistcloud", workers=2, poll_interval_seconds=0.2, heartbeat_seconds=1.0, retry_base_seconds=1.0)
    path = DATA / "settings.json"
    path.write_text(json.dumps(settings, indent=2))
    print(f"wrote {path}")
    return path


def tiff_stack(folder: Path):
    """A 48-slice 96x128 uint8 stack: a bright sphere in a gradient, one TIFF per slice."""
    import numpy as np
    import tifffile

    z, y, x = np.mgrid[0:48, 0:96, 0:128]
    sphere = ((z - 24) ** 2 + (y - 48) ** 2 + (x - 64) ** 2) < 30**2
    volume = (x + y + z).astype(np.uint8) // 4 + sphere.astype(np.uint8) * 150
    folder.mkdir(parents=True)
    for i, plane in enumerate(volume):
        tifffile.imwrite(folder / f"slice_{i:03d}.tif", plane)
    print(f"generated {len(volume)} TIFF slices {volume.shape[1:]} in {folder}")
    return volume


def hdf5_volume(folder: Path):
    """A 16x64x64 float32 volume in an HDF5 file (the 'Drive' folder of the second dataset)."""
    import h5py
    import numpy as np

    volume = np.sin(np.mgrid[0:16, 0:64, 0:64].sum(axis=0) / 9.0).astype(np.float32)
    folder.mkdir(parents=True)
    with h5py.File(folder / "scan.h5", "w") as h5:
        h5["entry/volume"] = volume
    print(f"generated HDF5 volume {volume.shape} in {folder}")
    return volume


def read_back(label: str, idx: Path, expected) -> None:
    import numpy as np
    import OpenVisus as ov

    data = ov.LoadDataset(str(idx)).read()
    digest = hashlib.sha256(np.ascontiguousarray(data).tobytes()).hexdigest()
    same = data.shape == expected.shape and bool(np.array_equal(data, expected))
    print(f"{label}: {idx} dims {list(reversed(data.shape))} dtype {data.dtype} sha256 {digest[:16]}... matches source: {same}")
    if not same:
        raise SystemExit(f"demo failed: {idx} does not read back as the source data")


def run_service(settings: Path) -> None:
    help_text = subprocess.run([sys.executable, "-m", "sccli", "service", "--help"], capture_output=True, text=True)
    if help_text.returncode != 0 or " run " not in help_text.stdout:
        raise SystemExit("demo failed: `sc service run` is not available in this build")
    print(f"$ sc --db {DB_URL} service run {settings.name} --until-idle", flush=True)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "sccli", "--db", DB_URL, "service", "run", str(settings), "--until-idle"], check=True, timeout=120)
    print(f"service went idle after {time.monotonic() - started:.1f}s", flush=True)


def main() -> None:
    shutil.rmtree(DATA, ignore_errors=True)
    DATA.mkdir()
    os.environ.setdefault("COLUMNS", "160")
    settings = write_settings()
    tiff_uuid, drive_uuid = str(uuid.uuid4()), str(uuid.uuid4())
    tiff_volume = tiff_stack(DATA / DIRS["in_data_dir"] / tiff_uuid)
    drive_folder = DATA / DIRS["sync_data_dir"] / "drive-demo-folder"
    drive_volume = hdf5_volume(drive_folder)

    sc("dataset", "add", "--uuid", tiff_uuid, "--name", "demo TIFF stack", "--sensor", "TIFF", "--user", "demo@example.org")
    sc("dataset", "add", "--uuid", drive_uuid, "--name", "demo Drive folder", "--sensor", "HDF5",
       "--google-drive-link", "https://drive.google.com/drive/folders/demo")
    conversion = sc("job", "create", "--dataset", tiff_uuid, "--type", "dataset_conversion", "--param", "sensor_type=TIFF")
    sync_params = {"data_url": "https://drive.google.com/drive/folders/demo", "sensor_type": "HDF5",
                   "conversion_params": {"dataset": "entry/volume"}, "rclone_source": str(drive_folder)}
    sync = shutil.which("rclone") is not None
    if sync:  # demo only: rclone_source swaps the Drive remote for a local one (no Google account here)
        sc("job", "create", "--dataset", drive_uuid, "--type", "google_sync", "--priority", "normal", "--params-json", json.dumps(sync_params))
    else:
        print("rclone is not installed: skipping the google_sync part (make tools installs it)")
    sc("job", "list")

    run_service(settings)

    sc("job", "list")
    sc("dataset", "show", tiff_uuid)
    sc("job", "show", conversion)
    statuses = {d["uuid"]: d["status"] for d in json.loads(sc("dataset", "list", "--json", show=False))["items"]}
    print("dataset statuses:", json.dumps(statuses, indent=1))
    wanted = [tiff_uuid] + ([drive_uuid] if sync else [])
    if any(statuses.get(u) != "done" for u in wanted):
        raise SystemExit("demo failed: not every dataset is done")
    read_back("TIFF stack", DATA / DIRS["out_data_dir"] / tiff_uuid / "visus.idx", tiff_volume)
    if sync:
        read_back("Drive HDF5", DATA / DIRS["out_data_dir"] / drive_uuid / "visus.idx", drive_volume)
    print("demo ok: datasets done, IDX readable")


if __name__ == "__main__":
    main()
