"""Dynamic completions through the shells' own completion functions: job types (a plugin's too),
job ids, dataset uuids and failure signatures; a missing store or a broken setting completes
nothing and prints nothing (and creates no file)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sccli.datasets import add_dataset
from sccli.queue import JobQueue
from sccli.store import open_store
from tests.conftest import new_uuid

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    store = open_store(url)
    store.ensure_schema()
    queue = JobQueue(store, actor="cli:test@host")
    uuid = str(add_dataset(store, new_uuid(), "scan")["uuid"])
    failed = queue.create_job(uuid, "data_compression")
    claimed = queue.claim_next("w1")
    assert claimed is not None
    queue.fail(failed, claimed["lease_token"], "rclone failed with exit code 1: no such host", retry=False)
    pending = queue.create_job(uuid, "backup_creation")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "XDG_DATA_HOME": str(tmp_path / "xdg")}
    for name in ("SC_DB_URL", "MONGO_URL", "_SC_COMPLETE"):
        env.pop(name, None)
    return {"url": url, "uuid": uuid, "failed": failed, "pending": pending, "env": env, "tmp": tmp_path}


def bash_complete(words: list[str], env: dict[str, str]) -> list[str]:
    """COMPREPLY of the shipped bash completion function for ``words`` (the last one is being typed)."""
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    script = (f"source {ROOT / 'completions' / 'sc.bash'}; COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; "
              "_sc_completion sc; printf '%s\\n' \"${COMPREPLY[@]}\"")
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.stderr == "", done.stderr  # a completion never prints errors into the prompt
    return [line for line in done.stdout.splitlines() if line]


def test_bash_completes_job_types_and_job_ids(world: dict[str, Any]) -> None:
    env = world["env"]
    assert bash_complete(["sc", "job", "list", "--type", "da"], env) == [
        "data_compression", "data_validation", "dataset_conversion",
    ]
    assert "backup_creation" in bash_complete(["sc", "job", "create", "--type", ""], env)
    db = ["sc", "--db", world["url"]]
    newest = bash_complete([*db, "job", "show", ""], env)
    assert newest == [world["pending"], world["failed"]]  # newest first
    assert bash_complete([*db, "job", "cancel", world["failed"][:4]], env) == [world["failed"]]
    assert bash_complete([*db, "job", "list", "--dataset", world["uuid"][:3]], env) == [world["uuid"]]


def test_a_plugin_type_completes(world: dict[str, Any]) -> None:
    settings = world["tmp"] / "settings.json"
    settings.write_text(json.dumps({"handlers": {"my_plugin": "my_plugin_module:run"}}))
    assert bash_complete(["sc", "--settings", str(settings), "job", "create", "--type", "my"], world["env"]) == [
        "my_plugin"
    ]


def test_failure_signatures_complete_with_their_text(world: dict[str, Any]) -> None:
    from sccli.monitor.signatures import error_signature, signature_id

    wanted = signature_id(error_signature("rclone failed with exit code 1: no such host"), "data_compression")
    assert bash_complete(["sc", "--db", world["url"], "monitor", "failed", "--signature", ""], world["env"]) == [wanted]
    zsh = run_protocol(
        "complete_zsh", ["sc", "--db", world["url"], "monitor", "failed", "--signature", ""], world["env"]
    )
    assert wanted in zsh and "no such host" in zsh  # zsh and fish show the signature's text beside its id


def run_protocol(mode: str, words: list[str], env: dict[str, str]) -> str:
    """What ``sc`` answers the zsh/fish completion scripts (they pass the words in _TYPER_COMPLETE_ARGS)."""
    extra = {"_TYPER_COMPLETE_FISH_ACTION": "get-args"} if mode == "complete_fish" else {}
    done = subprocess.run(["sc"], env={**env, "_SC_COMPLETE": mode, "_TYPER_COMPLETE_ARGS": " ".join(words), **extra},
                          capture_output=True, text=True, timeout=60)
    assert done.stderr == ""
    return done.stdout


def test_zsh_and_fish_complete_job_ids(world: dict[str, Any]) -> None:
    for mode in ("complete_zsh", "complete_fish"):
        out = run_protocol(mode, ["sc", "--db", world["url"], "job", "show", world["failed"][:5]], world["env"])
        assert world["failed"] in out and "data_compression failed" in out and world["pending"] not in out, (mode, out)


def test_schedule_names_complete(world: dict[str, Any]) -> None:
    db = ["sc", "--db", world["url"]]
    added = subprocess.run([*db, "schedule", "add", "nightly-check", "--type", "data_validation", "--cron", "0 3 * * *",
                            "--dataset", world["uuid"]], env=world["env"], capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr
    assert bash_complete([*db, "schedule", "show", "nig"], world["env"]) == ["nightly-check"]


def test_no_store_or_bad_settings_complete_nothing_silently(world: dict[str, Any]) -> None:
    env = world["env"]
    missing = world["tmp"] / "missing.db"
    assert bash_complete(["sc", "--db", f"sqlite:///{missing}", "job", "show", ""], env) == []
    assert not missing.exists()
    assert bash_complete(["sc", "job", "show", ""], env) == []  # the default store does not exist yet: not created
    assert not (world["tmp"] / "xdg").exists()
    assert bash_complete(["sc", "--db", "mongodb://127.0.0.1:1/x", "job", "show", ""], env) == []
    assert (
        bash_complete(["sc", "--settings", str(world["tmp"] / "nope.json"), "job", "list", "--type", "dat"], env) == []
    )
