"""`make demo`: register example datasets and jobs on the embedded store and show them.

Runs against a fresh SQLite file under ./demo-data so it never touches a real store.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "demo-data"


def sc(*args: str) -> str:
    cmd = [sys.executable, "-m", "sccli", "--db", f"sqlite:///{DATA / 'demo.db'}", *args]
    print("$ sc " + " ".join(args), flush=True)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    print(out, end="", flush=True)
    return out.strip()


def main() -> None:
    shutil.rmtree(DATA, ignore_errors=True)
    DATA.mkdir()
    os.environ.setdefault("COLUMNS", "160")
    tiff = sc("dataset", "add", "--name", "demo TIFF stack", "--sensor", "TIFF", "--user", "demo@example.org")
    drive = sc("dataset", "add", "--name", "demo Drive folder", "--sensor", "HDF5", "--google-drive-link", "https://drive.google.com/drive/folders/demo")
    sc("job", "create", "--dataset", tiff, "--type", "dataset_conversion", "--param", "sensor_type=TIFF")
    sc("job", "create", "--dataset", drive, "--type", "google_sync", "--priority", "normal")
    sc("job", "list")
    sc("dataset", "show", tiff)


if __name__ == "__main__":
    main()
