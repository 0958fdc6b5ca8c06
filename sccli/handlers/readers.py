"""Input formats of dataset_conversion, each read as a :class:`Volume`: a shape, a dtype and
slabs along the first (slowest) axis, so large inputs stream instead of loading at once.

Optional libraries (numpy, tifffile, h5py, netCDF4) are imported inside functions; a missing
one raises MissingExtra naming the ``formats`` extra. A file the library cannot read is a
permanent failure (the same bytes fail the same way again). Nothing outside the file is read:
TIFFs are opened without their multi-file (OME) companions, and HDF5 (also NetCDF-4) files with
external links, external raw storage or virtual datasets are refused before any data is read.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sccli.errors import InvalidInput, MissingExtra, PermanentError

TIFF_SUFFIXES = (".tif", ".tiff")
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf", ".he5", ".nxs")
NETCDF_SUFFIXES = (".nc", ".nc4", ".netcdf", ".cdf")
NPY_SUFFIXES = (".npy",)
IDX_SUFFIXES = (".idx",)

#: Sensor type (case-insensitive) → input format.
SENSOR_FORMATS = {
    "tiff": "tiff", "tif": "tiff", "tiff rgb": "tiff", "rgb": "tiff", "rgb tiff": "tiff",
    "hdf5": "hdf5", "h5": "hdf5", "4d_probe": "hdf5",
    "netcdf": "netcdf", "nc": "netcdf",
    "numpy": "npy", "npy": "npy",
    "idx": "idx",
}
FORMAT_SUFFIXES = {
    "tiff": TIFF_SUFFIXES, "hdf5": HDF5_SUFFIXES, "netcdf": NETCDF_SUFFIXES, "npy": NPY_SUFFIXES, "idx": IDX_SUFFIXES,
}


def unreadable(path: Path, what: str, exc: BaseException) -> BaseException:
    """The error for a file a library could not open: permanent when the bytes are at fault
    (no errno, or a library's negative code), an OSError of the disk stays as it is (retried)."""
    errno = getattr(exc, "errno", None)
    if isinstance(exc, OSError) and errno is not None and errno > 0:
        return exc
    return PermanentError(f"{path.name} is not a readable {what} file: {exc}")


def need(module: str) -> Any:
    """Import an optional dependency or say which extra provides it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(f"dataset conversion needs {module!r}: pip install 'sccli[formats]'") from None


@dataclass
class Volume:
    """An array to convert: numpy-order ``shape`` (slowest axis first, components last)."""

    shape: tuple[int, ...]
    dtype: Any
    components: int
    read_slab: Callable[[int, int], Any]
    source: list[Path]
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def spatial(self) -> tuple[int, ...]:
        return self.shape[:-1] if self.components > 1 else self.shape

    @property
    def nbytes(self) -> int:
        total = self.dtype.itemsize
        for n in self.shape:
            total *= n
        return total

    def slabs(self, max_bytes: int) -> Iterator[tuple[int, Any]]:
        """(first index, array) pieces along axis 0 of at most ``max_bytes`` (one row at least)."""
        rows = self.shape[0]
        per_row = max(1, self.nbytes // max(rows, 1))
        step = max(1, max_bytes // per_row)
        for start in range(0, rows, step):
            yield start, self.read_slab(start, min(rows, start + step))


def natural_key(path: Path) -> list[Any]:
    """Sort ``img2`` before ``img10``."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def input_files(input_path: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """Files with one of ``suffixes``: the input itself or those under it, in natural order
    (hidden files and folders, such as another job's partial output, are skipped)."""
    if input_path.is_file():
        return [input_path] if input_path.suffix.lower() in suffixes else []
    found = [
        p
        for p in input_path.rglob("*")
        if p.suffix.lower() in suffixes
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(input_path).parts)
    ]
    return sorted(found, key=natural_key)


def detect_format(input_path: Path, sensor_type: str | None) -> str:
    """The input format from the sensor type, else from the files present."""
    if sensor_type and sensor_type.strip().lower() in SENSOR_FORMATS:
        return SENSOR_FORMATS[sensor_type.strip().lower()]
    for fmt, suffixes in FORMAT_SUFFIXES.items():
        if input_files(input_path, suffixes):
            return fmt
    raise InvalidInput(f"no convertible input (TIFF, HDF5, NetCDF, .npy or IDX) under {input_path}")


def open_volume(fmt: str, input_path: Path, options: dict[str, Any], sensor_type: str | None) -> Volume:
    """Open the input as a Volume (``fmt`` is tiff, hdf5, netcdf or npy)."""
    files = input_files(input_path, FORMAT_SUFFIXES[fmt])
    if not files:
        raise InvalidInput(f"no {fmt} files under {input_path}")
    if fmt == "tiff":
        return open_tiff(files)
    if fmt == "hdf5":
        return open_hdf5(files[0], options, probe=(sensor_type or "").lower() == "4d_probe")
    if fmt == "netcdf":
        return open_netcdf(files[0], options)
    return open_npy(files[0])


def _components(shape: tuple[int, ...], rgb: bool) -> int:
    return shape[-1] if rgb and shape and shape[-1] in (3, 4) else 1


def open_tiff(files: list[Path]) -> Volume:
    """One TIFF (2D, RGB or multi-page) or a stack of same-shaped 2D/RGB TIFFs, one per slice."""
    tifffile = need("tifffile")
    np = need("numpy")

    def open_tiff_file(path: Path) -> Any:
        try:
            return tifffile.TiffFile(path, _multifile=False, is_ome=False)
        except (OSError, ValueError) as exc:  # tifffile's TiffFileError is a ValueError
            raise unreadable(path, "TIFF", exc) from None

    def first_series(tif: Any, path: Path) -> Any:
        if not tif.series:
            raise PermanentError(f"{path.name} is not a readable TIFF file: it holds no image")
        return tif.series[0]

    def page_info(path: Path) -> tuple[tuple[int, ...], Any, bool]:
        with open_tiff_file(path) as tif:
            series = first_series(tif, path)
            axes = series.axes
            return tuple(series.shape), series.dtype, "S" in axes and axes.index("S") in (0, len(axes) - 1)

    def read_file(path: Path) -> Any:
        with open_tiff_file(path) as tif:
            series = first_series(tif, path)
            try:
                data = series.asarray()
            except (ValueError, IndexError, KeyError) as exc:
                raise unreadable(path, "TIFF", exc) from None
            if "S" in series.axes and series.axes.index("S") == 0 and data.ndim >= 3:
                data = np.moveaxis(data, 0, -1)  # planar RGB → components last
            return data

    shape, dtype, rgb = page_info(files[0])
    if len(files) == 1:
        paged = open_paged_tiff(files[0], open_tiff_file)
        if paged is not None:
            return paged
        data = read_file(files[0])
        return Volume(
            tuple(data.shape),
            data.dtype,
            _components(data.shape, rgb),
            lambda a, b: data[a:b],
            files,
            {"format": "tiff"},
        )
    first = read_file(files[0])
    for path in (files[1], files[-1]):
        other = page_info(path)
        if other[0] != shape or other[1] != dtype:
            raise InvalidInput(
                f"TIFF stack is not uniform: {files[0].name} is {shape} {dtype}, {path.name} is {other[0]} {other[1]}"
            )

    def read_stack(a: int, b: int) -> Any:
        return np.stack([first if i == 0 else read_file(files[i]) for i in range(a, b)], axis=0)

    full = (len(files), *first.shape)
    return Volume(
        full, first.dtype, _components(full, rgb), read_stack, files, {"format": "tiff stack", "files": len(files)}
    )


def open_paged_tiff(path: Path, open_file: Callable[[Path], Any]) -> Volume | None:
    """A multi-page TIFF of one grey page per slice, read page by page (a slab never loads the
    whole file); None for any other layout (read whole)."""
    with open_file(path) as tif:
        series = tif.series[0] if tif.series else None
        if series is None or series.axes[-2:] != "YX" or len(series.shape) != 3:
            return None
        if series.shape[0] < 2 or len(series.pages) != series.shape[0]:
            return None
        shape, dtype = tuple(series.shape), series.dtype

    def read_pages(a: int, b: int) -> Any:
        with open_file(path) as tif:
            try:
                data = tif.asarray(key=range(a, b), series=0)
            except (ValueError, IndexError, KeyError) as exc:
                raise unreadable(path, "TIFF", exc) from None
        return data.reshape((b - a, *shape[1:]))

    return Volume(shape, dtype, 1, read_pages, [path], {"format": "tiff", "pages": shape[0]})


def _largest_dataset(h5: Any) -> str | None:
    best: list[Any] = [None, 0]

    def visit(name: str, obj: Any) -> None:
        if hasattr(obj, "shape") and getattr(obj, "ndim", 0) >= 2 and obj.dtype.kind in "uif" and obj.size > best[1]:
            best[:] = [name, obj.size]

    h5.visititems(visit)
    return best[0]


def _h5_dataset(h5: Any, path: str, key: str) -> Any:
    obj = h5.get(path)
    if obj is None or not hasattr(obj, "shape"):
        raise InvalidInput(f"conversion_params.{key}: no dataset {path!r} in {h5.filename}")
    return obj


def open_hdf5(path: Path, options: dict[str, Any], *, probe: bool) -> Volume:
    """An HDF5 dataset (``conversion_params.dataset``, default the largest); 4D_Probe also checks
    its scan coordinates ``Xs_dataset``/``Ys_dataset`` against the data's scan axes."""
    h5py = need("h5py")
    np = need("numpy")
    h5 = open_h5(h5py, path)
    name = options.get("dataset") or _largest_dataset(h5)
    if not name:
        raise InvalidInput(f"no numeric dataset of 2 or more dimensions in {path.name}")
    data = _h5_dataset(h5, name, "dataset")
    details: dict[str, Any] = {"format": "hdf5", "dataset": name}
    if probe:
        details["probe"] = probe_coordinates(h5, data.shape, options, np)
    return Volume(tuple(data.shape), data.dtype, 1, lambda a, b: np.asarray(data[a:b]), [path], details)


def probe_coordinates(h5: Any, shape: tuple[int, ...], options: dict[str, Any], np: Any) -> dict[str, Any]:
    """Check the 4D_Probe scan coordinates and summarise them (count, min, max)."""
    summary: dict[str, Any] = {}
    scan_points = shape[0] * shape[1] if len(shape) == 4 else shape[0]
    for key in ("Xs_dataset", "Ys_dataset"):
        if not options.get(key):
            raise InvalidInput(f"4D_Probe conversion needs conversion_params.{key}")
        values = np.asarray(_h5_dataset(h5, options[key], key)[()])
        if values.size not in (scan_points, shape[0], shape[1] if len(shape) > 1 else -1):
            raise InvalidInput(f"{key} {options[key]!r} has {values.size} values; the data's scan axes are {shape[:2]}")
        summary[key[:2]] = {
            "dataset": options[key], "count": int(values.size), "min": float(values.min()), "max": float(values.max()),
        }
    return summary


def refuse_external_hdf5(h5py: Any, h5: Any) -> None:
    """Refuse an HDF5 file that reaches outside itself: external links, datasets stored in
    external raw files, virtual datasets (their data lives in other files)."""
    def visit(name: str, link: Any) -> str | None:  # a value stops the walk (raising inside it would not)
        if isinstance(link, h5py.ExternalLink):
            return f"{name} is an external link to {link.filename}"
        if isinstance(link, h5py.HardLink):
            obj = h5.get(name)
            if isinstance(obj, h5py.Dataset) and (obj.external or obj.is_virtual):
                return f"dataset {name} keeps its data in other files"
        return None

    problem = h5.visititems_links(visit)
    if problem:
        raise InvalidInput(f"{h5.filename}: {problem}: refused, not read")


def open_h5(h5py: Any, path: Path) -> Any:
    """An HDF5 file opened read-only, checked by :func:`refuse_external_hdf5`."""
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise unreadable(path, "HDF5", exc) from None
    try:
        refuse_external_hdf5(h5py, h5)
    except BaseException:
        h5.close()
        raise
    return h5


def open_netcdf(path: Path, options: dict[str, Any]) -> Volume:
    """A NetCDF variable (``conversion_params.variable``, default the largest of 2+ dimensions)."""
    netCDF4 = need("netCDF4")
    np = need("numpy")
    with open(path, "rb") as fh:
        if fh.read(8) == HDF5_SIGNATURE:  # NetCDF-4 is HDF5: the same external data can hide in it
            open_h5(need("h5py"), path).close()
    try:
        nc = netCDF4.Dataset(path, "r")
    except OSError as exc:
        raise unreadable(path, "NetCDF", exc) from None
    nc.set_auto_mask(False)
    name = options.get("variable")
    if not name:
        candidates = [(v.size, n) for n, v in nc.variables.items() if v.ndim >= 2 and np.dtype(v.dtype).kind in "uif"]
        if not candidates:
            raise InvalidInput(f"no numeric variable of 2 or more dimensions in {path.name}")
        name = max(candidates)[1]
    if name not in nc.variables:
        raise InvalidInput(f"conversion_params.variable: no variable {name!r} in {path.name}")
    var = nc.variables[name]
    return Volume(
        tuple(var.shape),
        np.dtype(var.dtype),
        1,
        lambda a, b: np.asarray(var[a:b]),
        [path],
        {"format": "netcdf", "variable": name},
    )


def open_npy(path: Path) -> Volume:
    """A NumPy ``.npy`` array, read slab by slab with plain reads (a memory map would keep every
    page it touched resident: the process's memory would grow to the file's size)."""
    np = need("numpy")
    try:
        data = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, EOFError) as exc:
        raise PermanentError(f"{path.name} is not a readable .npy array: {exc}") from None
    if data.ndim == 0 or not data.flags.c_contiguous:  # Fortran order: rows are not contiguous in the file
        rows = lambda a, b: np.ascontiguousarray(data[a:b])  # noqa: E731
        return Volume(tuple(data.shape), data.dtype, 1, rows, [path], {"format": "npy"})
    return _npy_rows(np, path, int(data.offset), tuple(data.shape), data.dtype)


def _npy_rows(np: Any, path: Path, offset: int, shape: tuple[int, ...], dtype: Any) -> Volume:
    """The rows of a C-order array stored from ``offset``, each slab read into a fresh buffer."""
    row_bytes = dtype.itemsize * int(np.prod(shape[1:], dtype=np.int64))

    def read_rows(a: int, b: int) -> Any:
        out = np.empty((b - a, *shape[1:]), dtype=dtype)
        view = memoryview(out).cast("B")
        with open(path, "rb", buffering=0) as fh:
            fh.seek(offset + a * row_bytes)
            done = 0
            while done < len(view):
                got = fh.readinto(view[done:])
                if not got:
                    raise PermanentError(f"{path.name} is shorter than its header says ({shape} {dtype})")
                done += got
        return out

    return Volume(shape, dtype, 1, read_rows, [path], {"format": "npy"})
