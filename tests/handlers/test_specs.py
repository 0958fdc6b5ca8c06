"""Parameter declarations: what each job type accepts, checked at creation and at run time, and
kept in step with what the handlers really read."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from sccli.domain import JOB_TYPE_CONFIGS, next_stage
from sccli.errors import InvalidInput
from sccli.handlers import BUILTIN_MODULES, plugin_parameters
from sccli.handlers.specs import PARAMETERS, TIMEOUT, Param, check_parameters, describe
from sccli.lifecycle import CHAINED_PARAMETERS
from sccli.migration.plan import MIGRATION_TABLE, job_parameters
from sccli.settings import Settings


def test_every_builtin_type_is_declared():
    assert set(PARAMETERS) == set(JOB_TYPE_CONFIGS) == set(BUILTIN_MODULES)
    for job_type, spec in PARAMETERS.items():
        names = [p.name for p in spec]
        assert len(names) == len(set(names)), job_type
        assert TIMEOUT in spec, job_type
        assert all(p.type in ("str", "int", "float", "bool", "list", "dict") and p.description for p in spec)


def test_specs_module_is_light():
    code = (
        "import sys, sccli.handlers.specs; print(sorted(m for m in sys.modules if m.startswith(('numpy', "
        "'sccli.handlers.'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['sccli.handlers.base', 'sccli.handlers.containment', 'sccli.handlers.specs']"


@pytest.mark.parametrize(("params", "message"), [
    ({"level": "x"}, "parameter 'level' must be an integer, got 'x'"),
    ({"level": True}, "parameter 'level' must be an integer, got True"),
    ({"level": 40}, "parameter 'level' must be 0..19, got 40"),
    ({"format": "rar"}, "parameter 'format' must be one of tar.zst, zst, lz4, tar.lz4; got 'rar'"),
    ({"file_checksums": "yes"}, "parameter 'file_checksums' must be true or false"),
    ({"bogus": 1}, "unknown parameter 'bogus' for data_compression"),
    ({"input_path": ""}, "parameter 'input_path' must be a non-empty string"),
    ({"timeout_seconds": float("nan")}, "parameter 'timeout_seconds' must be a number, got nan"),
    ({"timeout_seconds": 0}, "parameter 'timeout_seconds' must be at least"),
    ({"conversion_params": []}, "parameter 'conversion_params' must be an object"),
])
def test_check_parameters_names_the_parameter(params, message):
    with pytest.raises(InvalidInput) as err:
        check_parameters("data_compression", params)
    assert message in str(err.value)


def test_required_list_and_unknown_types():
    with pytest.raises(InvalidInput, match="parameter 'destination' is required for rsync_transfer"):
        check_parameters("rsync_transfer", {"source": "/x"})
    check_parameters("rsync_transfer", {"source": "/x", "destination": "host:/y", "options": "-a"})
    with pytest.raises(InvalidInput, match="list of non-empty strings"):
        check_parameters("rsync_transfer", {"source": "/x", "destination": "/y", "options": ["-a", 3]})
    check_parameters("my_plugin", {"anything": object()})
    spec = (Param("colour", "str", "a colour", required=True, choices=("red", "blue")),)
    with pytest.raises(InvalidInput, match="parameter 'colour' must be one of red, blue"):
        check_parameters("my_plugin", {"colour": "green"}, plugin_spec=spec)
    with pytest.raises(InvalidInput, match="unknown parameter 'size'"):
        check_parameters("my_plugin", {"colour": "red", "size": 1}, plugin_spec=spec)


def test_paths_must_be_inside_the_data_dirs_links_followed(settings, tmp_path):
    inside = Path(settings.in_data_dir) / "ds"
    check_parameters("dataset_conversion", {"input_path": str(inside)}, settings)
    check_parameters("dataset_conversion", {"input_path": "/etc"})  # without settings, no path check
    with pytest.raises(InvalidInput, match="parameter 'input_path': path /etc is outside"):
        check_parameters("dataset_conversion", {"input_path": "/etc"}, settings)
    (Path(settings.in_data_dir) / "sneaky").symlink_to(tmp_path)
    with pytest.raises(InvalidInput, match="parameter 'output_path'.*outside"):
        check_parameters(
            "dataset_conversion", {"output_path": str(Path(settings.in_data_dir) / "sneaky" / "x")}, settings
        )
    with pytest.raises(InvalidInput, match="parameter 'archives'.*outside"):
        check_parameters("file_extraction", {"archives": [str(inside / "a.zip"), "/tmp/b.zip"]}, settings)


def test_migration_parameters_are_valid_for_the_types_it_creates(settings):
    dataset = {
        "uuid": "9b0f6c7e-1c1e-4f8e-9d0a-3a3c2b1d0e9f", "user": "a@b.org",
        "google_drive_link": "https://drive.google.com/drive/folders/abcdefghijk", "sensor": "TIFF",
        "conversion_parameters": {"verify": "full"}, "files": [f"{settings.in_data_dir}/up/data.bin"],
    }
    params = job_parameters(dataset, settings)
    assert {"input_path", "output_path", "user_email", "data_url", "sensor_type", "conversion_params", "files"} <= set(
        params
    )
    for job_type, _ in MIGRATION_TABLE.values():
        check_parameters(job_type, params, settings)


@pytest.mark.parametrize(
    ("parent", "result"),
    [
        ("google_sync", {"next_parameters": {"input_path": "{sync}/ds"}}),
        ("file_extraction", {"next_parameters": {"input_path": "{in}/ds"}}),
        (
            "file_upload",
            {
                "archives": ["{in}/ds/a.zip"],
                "next_parameters": {"archives": ["{in}/ds/a.zip"], "destination": "{in}/ds"},
            },
        ),
        ("file_upload", {}),
    ],
)
def test_chained_jobs_inherit_valid_parameters(settings, parent, result):
    fill = {"{sync}": settings.sync_data_dir, "{in}": settings.in_data_dir}

    def filled(value: Any) -> Any:
        if isinstance(value, str):
            for key, real in fill.items():
                value = value.replace(key, real)
            return value
        if isinstance(value, list):
            return [filled(v) for v in value]
        return {k: filled(v) for k, v in value.items()} if isinstance(value, dict) else value

    result = filled(result)
    parent_params = {p.name: sample(p, settings) for p in PARAMETERS[parent] if p.name in CHAINED_PARAMETERS}
    check_parameters(parent, parent_params, settings)
    _, child = next_stage(parent, result, {"convert": True})
    assert child is not None
    params = {k: parent_params[k] for k in CHAINED_PARAMETERS if k in parent_params}
    params.update(result.get("next_parameters") or {})
    check_parameters(child, params, settings)


def sample(param: Param, settings: Settings) -> Any:
    """A valid value of ``param`` (paths name something that does not exist inside in_data_dir)."""
    if param.choices:
        return param.choices[0]
    if param.format == "email":
        return "a@example.org"
    if param.path:
        path = str(Path(settings.in_data_dir) / "absent" / param.name)
        return [path] if param.type == "list" else path
    return {"str": "x", "int": int(param.minimum or 1), "float": 5.0, "bool": False, "list": ["x"], "dict": {}}[
        param.type
    ]


class Recording(dict):
    """Parameters that remember which names a handler asked for (not counting the spec check)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.asked: set[str] = set()

    def __bool__(self) -> bool:  # JobContext.params falls back to {} for an empty mapping
        return True

    def _note(self, key: Any) -> None:
        if not sys._getframe(2).f_code.co_filename.endswith("specs.py"):
            self.asked.add(key)

    def get(self, key: Any, default: Any = None) -> Any:
        self._note(key)
        return super().get(key, default)

    def __getitem__(self, key: Any) -> Any:
        self._note(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self._note(key)
        return super().__contains__(key)


def prepared(job_type: str, jobs: Any) -> dict[str, Any]:
    """Parameters (and files) with which ``job_type`` runs far, reading most of what it reads."""
    np = pytest.importorskip("numpy")
    jobs.input_dir.mkdir(exist_ok=True)
    (jobs.input_dir / "a.txt").write_text("a")
    if job_type == "dataset_conversion":
        np.save(jobs.input_dir / "a.npy", np.zeros((4, 4), dtype="uint8"))
        return {"sensor_type": "NUMPY", "conversion_params": {"verify": "full"}}
    if job_type == "file_extraction":
        with zipfile.ZipFile(jobs.input_dir / "x.zip", "w") as zf:
            zf.writestr("inner.txt", "x")
        return {"remove_archives": False}
    if job_type == "file_upload":
        return {"files": [str(jobs.input_dir / "a.txt")], "destination": str(jobs.output_dir)}
    if job_type == "rsync_transfer":
        return {"source": f"{jobs.input_dir}/", "destination": str(jobs.output_dir)}
    if job_type == "google_sync":
        return {"rclone_source": str(jobs.input_dir)}
    return {}


@pytest.mark.parametrize("job_type", sorted(PARAMETERS))
def test_handlers_read_only_declared_parameters(jobs, job_type):
    params = Recording(prepared(job_type, jobs))
    job = jobs.job(job_type)
    job["parameters"] = params
    try:
        importlib.import_module(f"sccli.handlers.{BUILTIN_MODULES[job_type]}").run(jobs.context(job))
    except Exception as exc:  # a missing tool or extra may stop it early: what it asked for until then counts
        assert "unknown parameter" not in str(exc)
    declared = {p.name for p in PARAMETERS[job_type]}
    assert params.asked, job_type
    assert params.asked <= declared, f"{job_type} reads undeclared {params.asked - declared}"


@pytest.mark.parametrize("job_type", sorted(PARAMETERS))
def test_every_declared_parameter_is_used_or_carried(job_type):
    source = inspect.getsource(importlib.import_module(f"sccli.handlers.{BUILTIN_MODULES[job_type]}"))
    for param in PARAMETERS[job_type]:
        if param is TIMEOUT or param.carried:
            continue
        assert f'"{param.name}"' in source, f"{job_type} declares {param.name!r} but never reads it"


@pytest.mark.parametrize("job_type", sorted(PARAMETERS))
def test_handlers_accept_every_declared_name_and_refuse_others(jobs, job_type):
    full = {p.name: sample(p, jobs.settings) for p in PARAMETERS[job_type]}
    check_parameters(job_type, full, jobs.settings)
    run = importlib.import_module(f"sccli.handlers.{BUILTIN_MODULES[job_type]}").run
    job = jobs.job(job_type, **full)
    try:
        run(jobs.context(job))
    except Exception as exc:
        assert "unknown parameter" not in str(exc), exc
    with pytest.raises(InvalidInput, match="unknown parameter 'undeclared'"):
        check_parameters(job_type, {"undeclared": 1})
    with pytest.raises(InvalidInput, match="unknown parameter 'undeclared'"):
        run(jobs.context(jobs.job(job_type, undeclared=1)))


def test_describe_lists_parameters_in_order():
    rows = describe("data_compression")
    assert [r["name"] for r in rows][:3] == ["input_path", "output_path", "format"]
    assert rows[2]["choices"] == ["tar.zst", "zst", "lz4", "tar.lz4"] and rows[2]["default"] == "tar.zst"
    assert describe("my_plugin") == []


def test_plugin_parameters_come_from_the_handler_module(tmp_path, monkeypatch, settings):
    (tmp_path / "colour_plugin.py").write_text(
        "from sccli.handlers.specs import Param\n"
        "PARAMETERS = (Param('colour', 'str', 'a colour', required=True),)\n"
        "def run(ctx):\n    return {'status': 'success', 'message': ctx.params['colour']}\n"
    )
    (tmp_path / "bare_plugin.py").write_text("def run(ctx):\n    return {'status': 'success', 'message': 'ok'}\n")
    (tmp_path / "bad_plugin.py").write_text("PARAMETERS = ['colour']\ndef run(ctx):\n    return {}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    settings.handlers = {"paint": "colour_plugin:run", "bare": "bare_plugin:run", "bad": "bad_plugin:run"}
    spec = plugin_parameters("paint", settings)
    assert spec is not None and spec[0].name == "colour"
    with pytest.raises(InvalidInput, match="'colour' is required"):
        check_parameters("paint", {}, settings, plugin_spec=spec)
    assert plugin_parameters("bare", settings) is None
    settings.handlers["data_compression"] = "bare_plugin:run"  # a plugin replacing a built-in type
    check_parameters(
        "data_compression", {"anything": 1}, settings, plugin_spec=plugin_parameters("data_compression", settings)
    )
    with pytest.raises(InvalidInput, match="unknown parameter 'anything'"):
        check_parameters("data_compression", {"anything": 1})
    assert plugin_parameters("dataset_conversion", settings) is None
    with pytest.raises(InvalidInput, match="PARAMETERS must be a tuple"):
        plugin_parameters("bad", settings)


INJECTION = "a@b.org\ntype = alias\nremote = /etc"


@pytest.mark.parametrize(("job_type", "params", "message"), [
    ("google_sync", {"user_email": INJECTION}, "parameter 'user_email' contains a control character"),
    ("google_sync", {"user_email": "not an email"}, "parameter 'user_email' must be an email address"),
    ("google_sync", {"user_email": "a@b@c"}, "must be an email address"),
    ("google_sync", {"data_url": "1AbCdEfGhIjKlMnOp\r\nscope = drive"}, "parameter 'data_url' contains a control"),
    ("google_sync", {"service_account_file": "sa.json\x1b[2J"}, "parameter 'service_account_file' contains a control"),
    ("file_upload", {"remote": "store:x\nexpire = 1"}, "parameter 'remote' contains a control character"),
    ("rsync_transfer", {"source": "/x", "destination": "/y", "options": ["-a", "--exclude=a\nb"]}, "'options' contain"),
    ("dataset_conversion", {"conversion_params": {"dataset": "d\x00"}}, "'conversion_params' contains a control"),
    ("dataset_conversion", {"conversion_params": {"a": [{"b\u0085": 1}]}}, "'conversion_params' contains a control"),
    ("dataset_conversion", {"sensor_type": "TIFF\x7f"}, "parameter 'sensor_type' contains a control character"),
])
def test_control_characters_and_malformed_emails_are_refused(job_type, params, message):
    with pytest.raises(InvalidInput) as err:
        check_parameters(job_type, params)
    assert message in str(err.value)
    assert "\n" not in str(err.value)  # the refusal names the value escaped: one line


def test_well_formed_values_still_pass():
    check_parameters("google_sync", {"user_email": "ana.o'neil+sync@example.co.uk", "data_url": "1AbCdEfGhIjKlMnOp"})
    check_parameters("dataset_conversion", {"conversion_params": {"dataset": "/entry/data é☃", "verify": "sample"}})
