"""dataset_conversion on real generated TIFF, RGB TIFF, HDF5 (4D_Probe), NetCDF, .npy and IDX."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from sccli.errors import InvalidInput
from sccli.handlers.base import HandlerError
from tests.handlers.conftest import has_partial, kill_midway, slow_writes

np = pytest.importorskip("numpy")
tifffile = pytest.importorskip("tifffile")
ov = pytest.importorskip("OpenVisus")


def read_idx(path: Path):
    return ov.LoadDataset(str(path)).read()


def volume(shape, dtype="uint16"):
    return (np.arange(int(np.prod(shape))) % 4093).astype(dtype).reshape(shape)


def test_tiff_stack_converts_and_reads_back(jobs):
    data = volume((9, 33, 47))
    jobs.input_dir.mkdir()
    for i, plane in enumerate(data):
        tifffile.imwrite(jobs.input_dir / f"slice_{i}.tif", plane)
    result = jobs.run("dataset_conversion", sensor_type="TIFF", conversion_params={"verify": "full"})
    assert result["status"] == "success"
    assert result["dims"] == [47, 33, 9] and result["dtype"] == "uint16" and result["file_count"] == 9
    assert result["data_sha256"] == hashlib.sha256(data.tobytes()).hexdigest()
    assert np.array_equal(read_idx(jobs.output_dir / "visus.idx"), data)
    assert json.loads((jobs.output_dir / "conversion.json").read_text())["verified_rows"] == 9
    assert jobs.progress[-1][0] == 100
    assert not has_partial(jobs.output_dir.parent)


def test_single_rgb_tiff(jobs):
    rgb = np.random.default_rng(1).integers(0, 255, (40, 30, 3), dtype=np.uint8)
    jobs.input_dir.mkdir()
    tifffile.imwrite(jobs.input_dir / "photo.tiff", rgb, photometric="rgb")
    result = jobs.run("dataset_conversion", sensor_type="TIFF RGB")
    assert result["dtype"] == "uint8[3]" and result["dims"] == [30, 40]
    assert np.array_equal(read_idx(jobs.output_dir / "visus.idx"), rgb)


def test_hdf5_4d_probe_with_scan_coordinates(jobs):
    h5py = pytest.importorskip("h5py")
    data = volume((4, 5, 8, 6), "float32")
    jobs.input_dir.mkdir()
    with h5py.File(jobs.input_dir / "probe.h5", "w") as h5:
        h5["entry/data"] = data
        h5["entry/Xs"] = np.linspace(0, 1, 4)
        h5["entry/Ys"] = np.linspace(0, 2, 5)
    params = {"dataset": "entry/data", "Xs_dataset": "entry/Xs", "Ys_dataset": "entry/Ys"}
    result = jobs.run("dataset_conversion", sensor_type="4D_Probe", conversion_params=params)
    assert result["dims"] == [6, 8, 5, 4] and result["probe"]["Ys"]["max"] == 2.0
    assert np.array_equal(read_idx(jobs.output_dir / "visus.idx"), data)


def test_4d_probe_refuses_missing_coordinates(jobs):
    h5py = pytest.importorskip("h5py")
    jobs.input_dir.mkdir()
    with h5py.File(jobs.input_dir / "probe.h5", "w") as h5:
        h5["data"] = volume((3, 3, 4, 4), "float32")
    with pytest.raises(InvalidInput, match="Xs_dataset"):
        jobs.run("dataset_conversion", sensor_type="4D_Probe", conversion_params={"dataset": "data"})
    with pytest.raises(InvalidInput, match="no dataset"):
        jobs.run("dataset_conversion", sensor_type="HDF5", conversion_params={"dataset": "nope"})
    assert not jobs.output_dir.exists() and not has_partial(jobs.output_dir.parent)


def test_netcdf_variable(jobs):
    netCDF4 = pytest.importorskip("netCDF4")
    data = volume((3, 10, 12), "float64")
    jobs.input_dir.mkdir()
    with netCDF4.Dataset(jobs.input_dir / "climate.nc", "w") as nc:
        for name, n in zip(("t", "y", "x"), data.shape, strict=True):
            nc.createDimension(name, n)
        nc.createVariable("temp", "f8", ("t", "y", "x"))[:] = data
        nc.createVariable("small", "f4", ("y", "x"))[:] = data[0]
    result = jobs.run("dataset_conversion", sensor_type="NETCDF", conversion_params={"variable": "temp"})
    assert result["variable"] == "temp" and result["dtype"] == "float64"
    assert np.array_equal(read_idx(jobs.output_dir / "visus.idx"), data)


def test_npy_detected_without_sensor_and_idx_input_copied(jobs, settings):
    data = volume((6, 7, 8), "int32")
    jobs.input_dir.mkdir()
    np.save(jobs.input_dir / "array.npy", data)
    first = jobs.run("dataset_conversion")
    assert first["format"] == "npy"
    # the converted IDX is itself valid input: validated and copied to another output
    other = Path(settings.out_data_dir) / "copy"
    result = jobs.run("dataset_conversion", sensor_type="IDX", input_path=str(jobs.output_dir), output_path=str(other))
    assert result["format"] == "idx" and result["dims"] == [8, 7, 6]
    assert np.array_equal(read_idx(other / "visus.idx"), data)


def test_refusals(jobs, tmp_path):
    jobs.input_dir.mkdir()
    np.save(jobs.input_dir / "a.npy", volume((2, 3, 4)))
    with pytest.raises(InvalidInput, match="outside"):
        jobs.run("dataset_conversion", input_path="/etc")
    with pytest.raises(InvalidInput, match="outside"):
        jobs.run("dataset_conversion", output_path=str(jobs.input_dir / ".." / ".." / ".." / "elsewhere"))
    with pytest.raises(InvalidInput, match="compression"):
        jobs.run("dataset_conversion", conversion_params={"compression": "rar"})
    with pytest.raises(InvalidInput, match="does not exist"):
        jobs.run("dataset_conversion", input_path=str(jobs.input_dir / "missing"))
    (jobs.input_dir / "a.npy").unlink()
    (jobs.input_dir / "notes.txt").write_text("nothing to convert")
    with pytest.raises(InvalidInput, match="no convertible input"):
        jobs.run("dataset_conversion")
    np.save(jobs.input_dir / "flat.npy", np.zeros(10))
    with pytest.raises(InvalidInput, match="1-dimensional"):
        jobs.run("dataset_conversion", sensor_type="NUMPY")
    assert not jobs.output_dir.exists() and not has_partial(jobs.output_dir.parent)


CONVERTER = """
import json, sys, time, pathlib
src, out, sensor, flag, params = sys.argv[1:6]
print("converter got", sensor, json.loads(params), flush=True)
(pathlib.Path(out) / "result.bin").write_bytes(b"x" * 1000)
time.sleep(float(json.loads(params).get("sleep", 0)))
"""


def test_external_converter_and_cancel_leaves_nothing(jobs, settings, tmp_path):
    script = tmp_path / "converter.py"
    script.write_text(CONVERTER)
    settings.converters = {"CUSTOM": [sys.executable, str(script)]}
    jobs.input_dir.mkdir()
    (jobs.input_dir / "raw.dat").write_bytes(b"raw")
    result = jobs.run("dataset_conversion", sensor_type="CUSTOM", conversion_params={"sleep": 0})
    assert result["format"] == "external:python" or result["format"].startswith("external:")
    assert (jobs.output_dir / "result.bin").stat().st_size == 1000

    import shutil
    shutil.rmtree(jobs.output_dir)
    job = jobs.job("dataset_conversion", sensor_type="CUSTOM", conversion_params={"sleep": 30})
    parent = jobs.output_dir.parent
    kill_midway(jobs, job, lambda: any(parent.glob(".*sc-partial-*/result.bin")))
    assert not has_partial(parent) and not jobs.output_dir.exists()


def test_failing_converter_reports_its_output(jobs, settings):
    settings.converters = {"BROKEN": [sys.executable, "-c", "import sys; print('bad input file'); sys.exit(3)"]}
    jobs.input_dir.mkdir()
    with pytest.raises(HandlerError, match="exit code 3.*bad input file"):
        jobs.run("dataset_conversion", sensor_type="BROKEN")
    assert not has_partial(jobs.output_dir.parent)


def test_missing_extra_names_the_install_command(jobs, monkeypatch):
    from sccli.errors import MissingExtra

    jobs.input_dir.mkdir()
    tifffile.imwrite(jobs.input_dir / "one.tif", volume((4, 5)))
    monkeypatch.setitem(sys.modules, "tifffile", None)  # as if the formats extra were not installed
    with pytest.raises(MissingExtra, match=r"pip install 'sccli\[formats\]'"):
        jobs.run("dataset_conversion", sensor_type="TIFF")
    assert not has_partial(jobs.output_dir.parent)


def test_builtin_conversion_cancelled_mid_write_leaves_nothing(jobs):
    jobs.input_dir.mkdir()
    np.save(jobs.input_dir / "array.npy", volume((8, 20, 30)))
    parent = jobs.output_dir.parent
    job = jobs.job("dataset_conversion", sensor_type="NUMPY")
    kill_midway(
        jobs, job, lambda: any(parent.glob(".*sc-partial-*/visus.idx")),
        setup=slow_writes("OpenVisus", "PyDataset.write", 30.0),
    )
    assert list(parent.iterdir()) == []
