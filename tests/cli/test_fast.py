"""The fast lane (`sc` without Typer for --version, help and the read commands) is the same CLI:
the same output, errors and exit codes as the Typer app, the same parsed values, current help."""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sccli.cli import fast, help_cache
from sccli.cli.app import app
from sccli.queue import JobQueue
from sccli.settings import Settings
from sccli.store import open_store

#: `sc` through the fast lane (the console script's main) and through the Typer app alone.
FAST = [sys.executable, "-c", "import sys; sys.argv[0] = 'sc'; from sccli.cli import main; main()"]
TYPER = [sys.executable, "-c", "from sccli.cli.app import app; app(prog_name='sc')"]
DATASET = "550e8400-e29b-41d4-a716-446655440000"


@pytest.fixture(scope="module")
def store_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A store with a pending, a running (with progress) and a failed job, and the environment to use it."""
    tmp = tmp_path_factory.mktemp("fast")
    url = f"sqlite:///{tmp / 'fast.db'}"
    store = open_store(url)
    queue = JobQueue.from_settings(store, Settings(), check_paths=False)
    from sccli.datasets import add_dataset

    add_dataset(store, DATASET, "scan-1", sensor="TIFF")
    failed = queue.create_job(DATASET, "data_compression", {"format": "lz4"})
    claimed = queue.claim_next("w1", types=["data_compression"])
    assert claimed is not None
    queue.fail(failed, claimed["lease_token"], "disk full :warning: at /data", retry=False)
    running = queue.create_job(DATASET, "backup_creation")
    claimed = queue.claim_next("w1", types=["backup_creation"])
    assert claimed is not None
    queue.heartbeat(running, claimed["lease_token"], progress=42.0, message="copying")
    pending = queue.create_job(DATASET, "dataset_conversion", {"sensor_type": "TIFF"})
    env = {
        **os.environ, "SC_DB_URL": url, "XDG_CACHE_HOME": str(tmp / "cache"), "XDG_DATA_HOME": str(tmp),
        "COLUMNS": "100",
    }
    for name in ("MONGO_URL", "TYPER_USE_RICH", "NO_COLOR", "FORCE_COLOR", "_SC_COMPLETE"):
        env.pop(name, None)
    return {"env": env, "url": url, "pending": pending, "running": running, "failed": failed, "tmp": tmp}


def run(cmd: list[str], args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    done = subprocess.run([*cmd, *args], env={**env, "TYPER_USE_RICH": "0"}, capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout, done.stderr


def unaged(result: tuple[int, str, str]) -> tuple[int, str, str]:
    """A running job's heartbeat age (``last heartbeat 2s ago``) moves between two runs."""
    return result[0], re.sub(r"heartbeat \d+s ago", "heartbeat Ns ago", result[1]), result[2]


def masked(text: str) -> str:
    """The monitor's clock-dependent figures (timestamps, ages) out of the way."""
    return re.sub(r"\d+(\.\d+)?", "N", text)


def read_commands(s: dict[str, Any]) -> list[list[str]]:
    return [
        ["job", "show", s["pending"]], ["job", "show", s["running"]], ["job", "show", s["failed"]],
        ["job", "show", "--json", s["failed"]], ["job", "show", "no-such-job"], ["-q", "job", "show", "no-such-job"],
        ["--db", s["url"], "-v", "job", "show", s["pending"]], ["job", "list"],
        ["job", "list", "-s", "failed", "--status", "pending"],
        ["job", "list", "--type", "backup_creation", "-f", "csv"], ["job", "list", "-n", "1"],
        ["job", "list", "--limit=2", "--all", "--format", "markdown"], ["job", "list", "--json", "-d", DATASET],
        ["job", "list", "--dataset", "not-a-uuid"], ["job", "list", "--type", "no_such_type"],
        ["-vq", "job", "list", "--format=plain"], ["dataset", "show", DATASET], ["dataset", "show", DATASET, "--json"],
        ["dataset", "show", "-f", "csv", DATASET], ["dataset", "show", "00000000-0000-0000-0000-000000000000"],
        ["--no-color", "dataset", "show", DATASET], ["job", "list", "--dataset-name", "SCAN", "--json"],
        ["job", "list", "-p", "format=lz4", "--format", "jsonl"],
        ["job", "list", "--user", "nobody@example.org", "-u", "x@example.org"], ["job", "list", "--param", "format"],
    ]


def test_read_commands_print_what_the_typer_app_prints(store_env: dict[str, Any]) -> None:
    env = store_env["env"]
    for args in read_commands(store_env):
        assert fast.parse(args), args  # each one really goes through the fast lane
        assert unaged(run(FAST, args, env)) == unaged(run(TYPER, args, env)), args


def test_monitor_overview_prints_what_the_typer_app_prints(store_env: dict[str, Any]) -> None:
    env = store_env["env"]
    for args in (
        ["monitor", "overview"], ["monitor", "overview", "--json"], ["monitor", "overview", "-f", "csv"],
        ["monitor", "overview", "--check"], ["monitor", "overview", "-f", "csv", "--section", "queue"],
        ["monitor", "overview", "--section", "nope"],
    ):
        code, out, err = run(FAST, args, env)
        assert (code, masked(out), masked(err)) == (lambda r: (r[0], masked(r[1]), masked(r[2])))(
            run(TYPER, args, env)
        ), args
    assert run(FAST, ["monitor", "overview", "--check"], env)[0] == 2  # a failed job with no service: critical


def test_monitor_report_prints_what_the_typer_app_prints(store_env: dict[str, Any]) -> None:
    env = store_env["env"]
    for args in (
        ["monitor", "report"], ["monitor", "report", "--days", "30"], ["monitor", "report", "--json", "--days=1"],
        ["monitor", "report", "-f", "csv"], ["-q", "monitor", "report", "--format", "markdown", "--days", "3650"],
    ):
        assert fast.parse(args), args  # each one really goes through the fast lane
        code, out, err = run(FAST, args, env)
        assert code == 0 and "failed" in out + err, args
        assert (code, masked(out), masked(err)) == (lambda r: (r[0], masked(r[1]), masked(r[2])))(
            run(TYPER, args, env)
        ), args


def test_arguments_the_fast_lane_does_not_know_are_left_to_typer(store_env: dict[str, Any]) -> None:
    declined = [
        [], ["job"], ["job", "create", "-d", DATASET, "-t", "x"], ["job", "show"], ["job", "show", "a", "b"],
        ["job", "show", "--jsn", "a"], ["job", "list", "--limit", "0"], ["job", "list", "--limit", "1e3"],
        ["job", "list", "-n5"], ["job", "list", "--status", "FAILED"], ["job", "list", "--status"],
        ["job", "list", "--json=1"], ["job", "list", "--", "x"], ["job", "list", "-f", "html"],
        ["monitor", "overview", "--watch"], ["monitor", "overview", "-w", "5"], ["job", "--json", "list"],
        ["--db", "-x", "job", "list"], ["job", "show", "a\x00b"], ["--version", "job", "list"],
        ["job", "list", "--help"], ["dataset", "list"], ["job", "list", "-sx"], ["job", "show", f"{DATASET}\n"],
        ["dataset", "show", "\udcff"], ["job", "list", "--dataset", f"{DATASET}\r"],
        ["monitor", "report", "--days", "0"], ["monitor", "report", "--days", "3651"], ["monitor", "report", "--days"],
        ["monitor", "report", "-d", "7"], ["monitor", "report", "--days", "+7"],
    ]
    for args in declined:
        with pytest.raises(fast.Declined):
            fast.parse(args)
    env = store_env["env"]
    for args in (
        ["job", "list", "--limit", "0"], ["job", "list", "--status", "FAILED"], ["job", "show"],
        ["monitor", "overview", "--check", "--format", "x"], ["monitor", "report", "--days", "3651"],
    ):
        assert run(FAST, args, env) == run(TYPER, args, env), args
    # issue 19: one refusal, either lane
    for args in (["job", "show", f"{DATASET}\n"], ["dataset", "show", f"{DATASET}\n"]):
        assert run(FAST, args, env) == run(TYPER, args, env), args


def test_fast_lane_passes_exactly_the_values_typer_passes(
    store_env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each accepted argv: the view function gets the same arguments, and the Application the same root options."""
    from sccli.cli import dataset_view, job_view

    calls: list[tuple[str, dict[str, Any], tuple[Any, ...]]] = []

    def recorder(name: str, real: Any) -> Any:
        def record(a: Any, *args: Any, **kwargs: Any) -> None:
            bound = inspect.signature(real).bind(a, *args, **kwargs)
            bound.apply_defaults()
            values = {k: (list(v) if isinstance(v, tuple) else v) for k, v in bound.arguments.items() if k != "a"}
            calls.append((name, values, (a.db_url, a.db_name, a.settings_path, a.verbosity, a.quiet, a.color)))
        return record

    for module, name in ((job_view, "job_show"), (job_view, "job_list"), (dataset_view, "dataset_show")):
        monkeypatch.setattr(module, name, recorder(name, getattr(module, name)))
    monkeypatch.delenv("NO_COLOR", raising=False)
    samples = [args for args in read_commands(store_env) if args[-1] != "--check"] + [
        [
            "--settings", "s.json", "--db-name", "x", "-vv", "job", "list", "-t", "a", "-t", "b", "-n", "7", "--limit",
            "9",
        ],
        ["--verbose", "--quiet", "job", "list", "--status=running", "--all"],
        ["job", "show", "", "--json", "--json"],
    ]
    runner = CliRunner()
    for args in samples:
        calls.clear()
        runner.invoke(app, args)
        try:
            fast.run(args)
        except SystemExit:
            pass
        assert len(calls) == 2 and calls[0] == calls[1], (args, calls)


def test_fast_options_match_the_typer_commands() -> None:
    """Names, kinds and defaults of every option the fast lane knows are the Typer command's."""
    import typer.main

    root = typer.main.get_command(app)
    ctx = root.make_context("sc", ["job", "list"], resilient_parsing=True)
    known = {
        "--db": "db", "--db-name": "db_name", "--settings": "settings", "-v": "verbose", "-q": "quiet",
        "--no-color": "no_color",
    }
    for option, dest in known.items():
        param = next(p for p in root.params if option in p.opts + p.secondary_opts)
        assert param.name == dest and fast.ROOT_DEFAULTS[dest] == param.default
    for (group, name), command in fast.commands().items():
        click_command = root.get_command(ctx, group).get_command(ctx, name)  # type: ignore[union-attr]
        params = {opt: p for p in click_command.params for opt in p.opts}
        for option, spec in command.options.items():
            param = params[option]
            assert param.name == spec.dest, option
            assert param.multiple == spec.multiple and bool(getattr(param, "is_flag", False)) == (
                spec.kind != fast.VALUE
            ), option
            if getattr(param.type, "min", None) is not None:  # an int range: the fast lane declines outside it
                bounds = (param.type.min, param.type.max)  # type: ignore[attr-defined]
                assert [spec.convert(str(b)) for b in bounds] == list(bounds), option
                for outside in (bounds[0] - 1, bounds[1] + 1):
                    with pytest.raises(fast.Declined):
                        spec.convert(str(outside))
        arguments = tuple(p.name for p in click_command.params if p.param_type_name == "argument")
        assert arguments == command.arguments
        defaults = {
            p.name: p.default
            for p in click_command.params
            if p.param_type_name == "option" and p.name in command.defaults
        }
        assert {k: (v or None) if k in ("status", "job_type") else v for k, v in defaults.items()} == command.defaults


HELP_ARGS = [
    ["--help"], ["-h"], ["job", "--help"], ["job", "show", "--help"], ["monitor", "overview", "-h"],
    ["dataset", "--help"], ["doctor", "--help"],
]


@pytest.mark.parametrize("columns", ["60", "80", "140"])
def test_cached_help_is_the_typer_help(store_env: dict[str, Any], columns: str) -> None:
    env = {**store_env["env"], "COLUMNS": columns}
    for args in HELP_ARGS:
        full = run(TYPER, args, env)
        assert full[0] == 0 and full[1].startswith("Usage: sc")
        assert run(FAST, args, env) == full, args  # the first call renders and keeps it...
        assert run(FAST, args, env) == full, args  # ...the second prints the kept text


def test_a_cached_help_is_used_only_while_its_code_is_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    module = tmp_path / "mod.py"
    module.write_text("x = 1\n")
    st = module.stat()
    key = help_cache.key(["--help"])
    help_cache.write(key, ((str(module), st.st_size, st.st_mtime_ns),), "the help\n")
    assert help_cache.read(key) == "the help\n"
    assert help_cache.read(help_cache.key(["job", "--help"])) is None
    monkeypatch.setenv("COLUMNS", "33")
    assert help_cache.read(help_cache.key(["--help"])) is None  # another terminal width: another key
    monkeypatch.delenv("COLUMNS")
    module.write_text("x = 22\n")
    assert help_cache.read(key) is None  # the code changed: rendered again


def test_unknown_command_help_is_typer_error_and_is_not_cached(store_env: dict[str, Any]) -> None:
    env = store_env["env"]
    assert run(FAST, ["nosuch", "--help"], env) == run(TYPER, ["nosuch", "--help"], env)
    assert run(FAST, ["nosuch", "--help"], env)[0] == 2


def test_version_is_the_typer_version(store_env: dict[str, Any]) -> None:
    assert run(FAST, ["--version"], store_env["env"]) == run(TYPER, ["--version"], store_env["env"])


def imported(args: list[str], env: dict[str, str]) -> set[str]:
    """The modules `sc ARGS` imports (from ``-X importtime``), after one warm-up run."""
    cmd = [sys.executable, "-X", "importtime", *FAST[1:], *args]
    subprocess.run(cmd, env=env, capture_output=True, timeout=60)
    err = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60).stderr
    return {line.split("|")[-1].strip() for line in err.splitlines() if line.startswith("import time:")}


def test_help_and_read_commands_do_not_import_typer_or_heavy_modules(store_env: dict[str, Any]) -> None:
    env = {**store_env["env"], "TYPER_USE_RICH": "0"}
    for args in (["--help"], ["job", "--help"], ["--version"]):
        modules = imported(args, env)
        assert (
            not {"typer", "rich", "pymongo", "sccli.store", "sccli.handlers", "importlib.metadata", "typing"} & modules
        ), args
    reads = (
        ["job", "show", store_env["pending"]], ["job", "show", store_env["running"]], ["job", "list"],
        ["dataset", "show", DATASET], ["monitor", "overview"], ["monitor", "report", "--days", "7"],
    )
    for args in reads:
        modules = imported(args, env)
        assert "sccli.store.sqlite" in modules  # it really ran
        assert not {"typer", "pymongo", "sccli.handlers", "sccli.cli.app", "sccli.cli.job"} & modules, args
        # issue 25: a read needs neither the service's config nor the queue's write path (not "socket": a table's
        # tabulate imports it through importlib.metadata and email, issue 21's one plain renderer)
        assert (
            not {"sccli.service", "sccli.service.config", "sccli.queue", "sccli.lifecycle", "sccli.followups"} & modules
        ), args
    for args in (["job", "show", store_env["pending"]], ["job", "list"], ["dataset", "show", DATASET],
                 ["job", "list", "-n", "1"]):
        assert "rich" not in imported(args, env), args  # a pipe: plain text, and tables through tabulate


def test_read_commands_import_no_settings_model_nor_dataclasses(store_env: dict[str, Any]) -> None:
    """Issue 25: without a settings file a read takes the defaults it needs from sccli.setting_defaults;
    msgspec (with typing_extensions and inspect), dataclasses and uuid cost a read about 20 ms of CPU; a
    table's renderer brings dataclasses and inspect, nothing more."""
    env = {**store_env["env"], "TYPER_USE_RICH": "0"}
    heavy = {"msgspec", "sccli.settings", "uuid", "sccli.events", "hashlib", "csv", "importlib.metadata", "email"}
    for args in (["job", "show", store_env["pending"]], ["job", "show", store_env["running"]],
                 ["job", "list", "-n", "1"], ["job", "list", "-n", "1", "--json"], ["dataset", "show", DATASET],
                 ["monitor", "overview"], ["monitor", "report", "--days", "7", "--json"]):
        modules = imported(args, env)
        assert "sccli.store.sqlite" in modules  # it really ran
        # A plain table brings tabulate (issue 21's one plain renderer) and with it dataclasses and inspect;
        # tabulate 0.10 adds importlib.metadata and email (+17 ms: pinned below 0.10 in pyproject.toml).
        own = modules - {"dataclasses", "inspect"} if "tabulate" in modules else modules
        assert not heavy & own, (args, heavy & own)


def test_a_settings_file_is_still_read_by_the_read_commands(store_env: dict[str, Any], tmp_path: Path) -> None:
    """The defaults are only for a read without ``--settings``: the file's values win (log_dir, stale_after_seconds)."""
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"log_dir": str(tmp_path / "logs"), "stale_after_seconds": 3600}))
    env = store_env["env"]
    args = ["--settings", str(settings), "job", "show", store_env["pending"]]
    assert fast.parse(args)
    code, out, _ = run(FAST, args, env)
    assert code == 0 and f"Log: {tmp_path / 'logs'}/sc_job_{store_env['pending']}.log" in out
    assert run(FAST, args, env) == run(TYPER, args, env)
    overview = ["--settings", str(settings), "monitor", "overview", "--json"]
    assert masked(run(FAST, overview, env)[1]) == masked(run(TYPER, overview, env)[1])


def test_info_writes_what_rich_writes_to_stderr_in_a_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rich.console import Console

    from sccli.cli.context import Application

    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    for text in ["showing 50 of 10020; --limit N or --all for more", "", "error :warning: here", "tab\there",
                 "x" * 300, "é 中文", "[bold]not markup[/bold]", "at 07:16:47, :100:"]:
        err = io.StringIO()
        monkeypatch.setattr(sys, "stderr", err)
        Application(color=True).info(text)
        expected = io.StringIO()
        Console(file=expected, highlight=False, soft_wrap=True).print(text, markup=False, soft_wrap=True)
        assert err.getvalue() == expected.getvalue(), text


def test_say_writes_what_rich_writes_in_a_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rich.console import Console

    from sccli.cli.context import Application

    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    texts = [
        "", "Why:", "  - waits for a free slot", "Log: /tmp/sc_job_1.log (not written yet)",
        "Progress: [███░░░] 42%  copying", "  " + json.dumps({"a": [1, "b"]}), "error :warning: here",
        "  - times out at 2026-12-07T07:16:47.897000Z", ":100: and :Warning-text: and :nope:", "tab\there",
        "x" * 300, "é ünïcode 中文", "[bold]not markup[/bold]",
    ]
    for text in texts:
        out = io.StringIO()
        monkeypatch.setattr(sys, "stdout", out)
        Application(color=True).say(text, style="bold")
        expected = io.StringIO()
        Console(file=expected, highlight=False, soft_wrap=True).print(text, style="bold", markup=False)
        assert out.getvalue() == expected.getvalue(), text
