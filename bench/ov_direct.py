"""OpenVisus called directly, as a user would without sccli (the baseline of ``bench/handlers.py``):
read the whole input, ``CreateIdx``, ``write``, ``compressDataset(["zip"])``.

    .venv/bin/python bench/ov_direct.py INPUT_DIR OUTPUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import OpenVisus as ov
import tifffile


def main() -> None:
    source, output = Path(sys.argv[1]), Path(sys.argv[2])
    tiffs = sorted(source.glob("*.tif"))
    data = np.stack([tifffile.imread(f) for f in tiffs]) if tiffs else np.load(next(source.glob("*.npy")))
    db = ov.CreateIdx(
        url=str(output / "visus.idx"), dims=list(reversed(data.shape)), fields=[ov.Field("data", data.dtype.name)]
    )
    db.write(data)
    db.compressDataset(["zip"])


if __name__ == "__main__":
    main()
