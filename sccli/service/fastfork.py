"""The forker's fork: libc's ``fork()`` without CPython's after-fork work, when that is safe.

``os.fork()`` runs, in every child, CPython's after-fork repairs and each ``os.register_at_fork``
hook (threading's, logging's, random's). In the forker (:mod:`sccli.service.forker`) every page
they write is a copy-on-write fault: measured on the forker's heap, 260 faults and 0.9 ms of CPU
before the child's first line, against 41 faults and 0.4 ms for libc's ``fork()`` called
directly. What those repairs are for cannot happen in the forker when it has one thread: no
other thread holds the GIL, the import lock or a logging lock at the fork, and the main thread
is the only one to keep. So :class:`ForkCall` calls libc's ``fork()`` when

- the process has one thread (a thread could hold the GIL, which ``ctypes`` releases around the
  call: the child would wait for it forever): ``threading`` is asked before every fork, ``/proc``
  (threads started by C code too) whenever ``sys.modules`` has grown, as an import may start one;
- no loaded module registers at-fork hooks but :data:`REPLAYED` (a plugin's hook would be
  skipped), checked whenever ``sys.modules`` has grown;

and ``os.fork()`` otherwise. In the child it does what the skipped hooks did that still
matters with one thread: ``random`` is reseeded, so no two jobs draw the same numbers. (What is
left as the forker had it: ``threading.main_thread().native_id``, the forker's thread id;
``threading.get_native_id()`` asks the kernel and is right.)
C extensions register their hooks with ``pthread_atfork``, which libc's ``fork()`` runs.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import Any

#: Modules whose at-fork hooks need nothing in a one-thread process, or are replayed here.
REPLAYED = frozenset({"threading", "logging", "random", "concurrent.futures.thread"})
#: The text a module that registers at-fork hooks holds (source, bytecode or extension).
MARK = b"register_at_fork"


def registers_hooks(module: Any) -> bool:
    """Whether ``module``'s file mentions ``register_at_fork`` (a module without a file: no)."""
    path = getattr(module, "__file__", None)
    if not isinstance(path, str):
        return False
    try:
        with open(path, "rb") as f:
            return MARK in f.read()
    except OSError:
        return True  # unreadable: assume the worst


def one_thread() -> bool:
    """Whether this process runs one thread (``/proc``; ``threading`` where there is none)."""
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return threading.active_count() == 1


def libc_fork() -> Callable[[], int] | None:
    """libc's ``fork`` through ``ctypes`` (None off Linux or without it)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        fork: Callable[[], int] = ctypes.CDLL(None, use_errno=True).fork
    except (OSError, AttributeError):
        return None
    return fork


class ForkCall:
    """``fork()`` for the forker: libc's when safe (see the module's docstring), else ``os.fork``."""

    def __init__(self) -> None:
        self.raw = libc_fork()
        self.seen: set[str] = set()
        self.hooked: list[str] = []  # modules outside REPLAYED that register at-fork hooks
        self.threads_ok = False  # one thread when sys.modules last grew
        self.modules = -1  # len(sys.modules) at the last scan

    def _scan(self) -> None:
        for name, module in list(sys.modules.items()):
            if name not in self.seen:
                self.seen.add(name)
                if name not in REPLAYED and name != __name__ and registers_hooks(module):
                    self.hooked.append(name)
        self.threads_ok = one_thread()
        self.modules = len(sys.modules)

    @property
    def fast(self) -> bool:
        """Whether the next fork skips CPython's after-fork work."""
        if len(sys.modules) != self.modules:
            self._scan()
        return self.raw is not None and not self.hooked and self.threads_ok and threading.active_count() == 1

    def __call__(self) -> int:
        if not self.fast:
            return os.fork()
        assert self.raw is not None
        pid = self.raw()
        if pid < 0:
            import ctypes

            errno = ctypes.get_errno()
            raise OSError(errno, os.strerror(errno))
        if pid == 0:
            after_in_child()
        return pid


def after_in_child() -> None:
    """What a skipped at-fork hook did that matters in a child of a one-thread process."""
    random = sys.modules.get("random")
    if random is not None:
        random.seed()  # random's own hook: every child draws its own numbers
