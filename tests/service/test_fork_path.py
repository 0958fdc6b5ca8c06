"""The job child's cheap path: libc's fork in the forker (figures in bench/README.md).

These tests hold the guarantees it must keep: every child draws its own random numbers, a
module's at-fork hook or a second thread sends the forker back to ``os.fork``, and a service's
children (forked that way) run one after another in one slot, each with numbers of its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from sccli.domain import JobStatus
from sccli.queue import JobQueue
from sccli.store.base import JobQuery
from tests.conftest import StoreSpec, add_dataset
from tests.service.conftest import ROOT, service_env, wait_for, write_settings

#: Forks two children with the forker's fork call; prints what the parent and the children saw.
FORK_SCRIPT = textwrap.dedent("""
    import json, os, random, sys, threading, time
    sys.path.insert(0, sys.argv[1])
    setup = sys.argv[2]
    if setup == "hook":
        import hooked  # registers an at-fork hook
    if setup == "thread":
        threading.Thread(target=time.sleep, args=(5,), daemon=True).start()
    from sccli.service.fastfork import ForkCall
    fork = ForkCall()
    fast = fork.fast
    draws = []
    for _ in range(2):
        r, w = os.pipe()
        pid = fork()
        if pid == 0:
            hook = os.environ.get("SC_TEST_HOOK_RAN", "")
            main = threading.current_thread() is threading.main_thread()
            os.write(w, json.dumps([random.random(), hook, main]).encode())
            os._exit(0)
        os.close(w)
        draws.append(json.loads(os.read(r, 4096)))
        os.close(r)
        assert os.waitpid(pid, 0)[1] == 0
    print(json.dumps({"fast": fast, "hooked": fork.hooked, "children": draws}))
""")

HOOKED_MODULE = 'import os\nos.register_at_fork(after_in_child=lambda: os.environ.update(SC_TEST_HOOK_RAN="yes"))\n'


def run_fork_script(tmp_path: Path, setup: str) -> dict:
    (tmp_path / "hooked.py").write_text(HOOKED_MODULE)
    out = subprocess.run([sys.executable, "-c", FORK_SCRIPT, str(tmp_path), setup], capture_output=True, text=True,
                         timeout=60, env=service_env(), cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_fast_fork_children_draw_their_own_random_numbers(tmp_path: Path) -> None:
    seen = run_fork_script(tmp_path, "plain")
    assert seen["fast"] is True and seen["hooked"] == []
    (first, _, main1), (second, _, main2) = seen["children"]
    assert first != second  # random's own at-fork hook is skipped: the fork call reseeds
    assert main1 and main2


def test_a_module_with_an_at_fork_hook_gets_os_fork(tmp_path: Path) -> None:
    seen = run_fork_script(tmp_path, "hook")
    assert seen["fast"] is False and seen["hooked"] == ["hooked"]
    assert [hook for _, hook, _ in seen["children"]] == ["yes", "yes"]  # its hook ran in every child


def test_a_second_thread_gets_os_fork(tmp_path: Path) -> None:
    seen = run_fork_script(tmp_path, "thread")
    assert seen["fast"] is False
    assert len({draw for draw, _, _ in seen["children"]}) == 2


def test_one_slot_never_runs_two_handlers_at_once(sqlite_spec: StoreSpec, tmp_path: Path, services) -> None:
    """One slot: each handler starts after the last one returned; every child draws its own numbers."""
    settings = write_settings(tmp_path, workers=1, handlers={"span": "tests.service.slot_plugins:span"})
    store = sqlite_spec.open()
    queue = JobQueue(store, actor="cli:test@host", retry_base_seconds=0.0, extra_types={"span": ""})
    spans = tmp_path / "spans.txt"
    for _ in range(20):
        queue.create_job(add_dataset(store), "span", {"file": str(spans)})
    service = services(sqlite_spec, settings, "--until-idle")
    assert service.wait(120) == 0, service.log()[-3000:]
    done = wait_for(lambda: store.find_jobs(JobQuery(status=[JobStatus.COMPLETED.value]), limit=None), what="20 jobs")
    assert len(done) == 20
    lines = spans.read_text().split("\n")[:-1]
    assert len(lines) == 40
    for start, end in zip(lines[::2], lines[1::2], strict=True):
        assert start.startswith("start ") and end == "end " + start.split()[1], lines
    assert len({job["result"]["draw"] for job in done}) == 20
