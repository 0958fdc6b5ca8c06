"""Process containment on Linux: child subreapers, parent-death signals and killing a whole tree.

A process that calls ``setsid`` or double-forks leaves its process group, but it cannot leave its
ancestry: with ``PR_SET_CHILD_SUBREAPER`` set on the template and on each job child, an orphan is
re-parented to the nearest of them instead of to init, so every process a job started stays a
descendant of that job's child (or, once the child died, of the template) and is found by walking
``/proc``. Elsewhere these calls do nothing and only process groups are killed.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36

#: Rounds of "find live descendants, SIGKILL them" before giving up (a fork bomb, a D-state process).
KILL_ROUNDS = 400

IS_LINUX = sys.platform.startswith("linux")


_libc: list[object] = []  # loaded once in the template: forked children inherit it, not load it again


def _prctl(option: int, value: int) -> bool:
    if not IS_LINUX:
        return False
    try:
        if not _libc:
            import ctypes

            _libc.append(ctypes.CDLL(None, use_errno=True))
        return int(_libc[0].prctl(option, value, 0, 0, 0)) == 0  # type: ignore[attr-defined]
    except (OSError, AttributeError):
        return False


def die_with_parent(sig: int) -> bool:
    """Ask Linux to send ``sig`` to this process when its parent (thread) dies; False elsewhere."""
    return _prctl(PR_SET_PDEATHSIG, int(sig))


def become_subreaper() -> bool:
    """Make orphaned descendants re-parent to this process instead of init; False when unsupported."""
    return _prctl(PR_SET_CHILD_SUBREAPER, 1)


def process_table() -> dict[int, tuple[int, str]]:
    """``{pid: (ppid, state)}`` of every process visible in /proc (empty when there is no /proc)."""
    table: dict[int, tuple[int, str]] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return table
    for name in names:
        if not name.isdigit():
            continue
        try:
            fd = os.open(f"/proc/{name}/stat", os.O_RDONLY)
            try:
                data = os.read(fd, 512)
            finally:
                os.close(fd)
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")"
        fields = data[data.rfind(b")") + 2:].split(b" ", 2)
        if len(fields) >= 2:
            table[int(name)] = (int(fields[1]), fields[0].decode())
    return table


def descendants(root: int, skip: Iterable[int] = ()) -> list[tuple[int, str]]:
    """``(pid, state)`` of every descendant of ``root``, not entering the subtrees of ``skip``."""
    if not IS_LINUX:
        return _psutil_descendants(root, set(skip))
    table = process_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _state) in table.items():
        children.setdefault(ppid, []).append(pid)
    excluded = set(skip)
    found: list[tuple[int, str]] = []
    todo = list(children.get(root, ()))
    while todo:
        pid = todo.pop()
        if pid in excluded or pid == root:
            continue
        found.append((pid, table[pid][1]))
        todo += children.get(pid, ())
    return found


def _psutil_descendants(root: int, skip: set[int]) -> list[tuple[int, str]]:
    import psutil

    try:
        procs = psutil.Process(root).children(recursive=True)
    except psutil.Error:
        return []
    return [(p.pid, "R") for p in procs if p.pid not in skip]


def live_descendants(root: int, skip: Iterable[int] = ()) -> list[int]:
    """Descendants of ``root`` that have not exited (zombies waiting to be reaped are left out)."""
    return [pid for pid, state in descendants(root, skip) if state not in ("Z", "X")]


def signal_all(pids: Iterable[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def reap_any() -> list[tuple[int, int]]:
    """Reap every ended child of this process without blocking; ``(pid, exit code)`` of each."""
    ended: list[tuple[int, int]] = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return ended
        if pid == 0:
            return ended
        ended.append((pid, os.waitstatus_to_exitcode(status)))


def has_no_children() -> bool:
    """True when this process has no child left (ended ones are reaped). For a subreaper that
    means no descendant at all, since an orphan below it re-parents to it: a cheap check that
    saves walking /proc when a handler started nothing."""
    try:
        while True:
            pid, _status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return False
    except ChildProcessError:
        return True


def kill_tree(root: int, skip: Iterable[int] = (), reap: Callable[[], object] = reap_any) -> int:
    """SIGKILL every descendant of ``root`` (but the subtrees of ``skip``) until none is left; how
    many were killed. ``reap`` collects the ones that became this process's children."""
    excluded = set(skip)
    killed: set[int] = set()
    for round_number in range(KILL_ROUNDS):
        live = live_descendants(root, excluded)
        if not live:
            break
        signal_all(live, signal.SIGKILL)
        killed.update(live)
        reap()
        time.sleep(0.0005 * min(round_number + 1, 20))
    reap()
    return len(killed)


def terminate_tree(root: int, grace: float, reap: Callable[[], object] = reap_any) -> None:
    """SIGTERM every descendant of ``root``, wait up to ``grace`` seconds for them, SIGKILL the rest."""
    signal_all(live_descendants(root), signal.SIGTERM)
    deadline = time.monotonic() + max(0.0, grace)
    while time.monotonic() < deadline and live_descendants(root):
        reap()
        time.sleep(0.02)
    kill_tree(root, reap=reap)


def tagged_processes(name: str, value: str) -> list[int]:
    """Processes whose environment holds ``name=value`` (our own user's; others are unreadable)."""
    wanted = f"{name}={value}".encode()
    found = []
    for pid in process_table():
        try:
            with open(f"/proc/{pid}/environ", "rb") as env:
                if wanted in env.read().split(b"\0"):
                    found.append(pid)
        except OSError:
            continue
    return found


def wake_on_signals(wake_r: int, wake_w: int, on_term: Callable[[int, Any], None]) -> None:
    """A serving loop's signal set-up: SIGCHLD and SIGTERM write to the (non-blocking) wake
    pipe, so a loop waiting on ``wake_r`` wakes for them; ``on_term`` handles SIGTERM."""
    for end in (wake_r, wake_w):
        os.set_blocking(end, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    signal.signal(signal.SIGTERM, on_term)


#: The signals that drain the service: SIGHUP too (a closed ssh or tmux session must not kill it mid-job).
DRAIN_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
#: Why a signal came, in the service's log line (SIGHUP: `sc service run` in a closed terminal).
_SIGNAL_CAUSES = {signal.SIGTERM: "", signal.SIGINT: " (Ctrl-C)", signal.SIGHUP: " (the terminal or session closed)"}


def signal_words(signum: int) -> str:
    """``"SIGHUP received (the terminal or session closed)"``, or ``"signal received"`` when unknown."""
    try:
        sig = signal.Signals(signum)
    except ValueError:
        return "signal received"
    return f"{sig.name} received{_SIGNAL_CAUSES.get(sig, '')}"
