"""``SC_BackgroundService``: the original's service class over ``sc service run``.

``SC_BackgroundService("settings.json").run()`` starts the service from a settings path. Extra
job types keep the original's registry: ``self.job_handlers = {"my_type": self._handle_my_type}``
(a method ``(self, job)``, a function ``(job)``, or a ``"module:function"`` string). Handlers run in
child processes started from a fresh interpreter, so a method or function must be importable
(defined in a module, not in ``__main__``); it is found again there by module and name.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

from sccli.errors import InvalidInput

#: Environment variable carrying {job_type: "module:Qualified.name"} to the handler processes.
HANDLERS_ENV = "SC_COMPAT_HANDLERS"
DISPATCHER = "sccli.compat_service:legacy_handler"


def handler_target(handler: Callable[..., Any] | str) -> str:
    """``module:Qualified.name`` of an importable function or method (or the string given)."""
    if isinstance(handler, str):
        if ":" not in handler:
            raise InvalidInput(f"handler {handler!r} must be 'module:function'")
        return handler
    func = getattr(handler, "__func__", handler)
    module, qualname = getattr(func, "__module__", None), getattr(func, "__qualname__", "")
    if (
        not module
        or module == "__main__"
        or "<locals>" in qualname
        or not getattr(sys.modules.get(module), "__file__", None)
    ):
        raise InvalidInput(
            f"handler {qualname or handler!r} must be defined in an importable module: job "
            "handlers run in child processes"
        )
    return f"{module}:{qualname}"


def legacy_handler(ctx: Any) -> dict[str, Any] | None:
    """The handler of every type registered through ``job_handlers`` (runs in the child)."""
    target = json.loads(os.environ.get(HANDLERS_ENV) or "{}").get(ctx.job["job_type"])
    if not target:
        raise InvalidInput(f"no registered handler for job type {ctx.job['job_type']!r}")
    module_name, _, qualname = target.partition(":")
    owner: Any = None
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        owner, obj = obj, getattr(obj, part)
    # A method of a service class is called as the original did: on the service, with the job.
    result = obj(owner.__new__(owner), ctx.job) if isinstance(owner, type) else obj(ctx.job)  # type: ignore[call-overload]
    return result if isinstance(result, dict) else None


class SC_BackgroundService:  # noqa: N801 - the original's name
    """The background service started from a settings path (the store from the settings'
    ``db_url``, ``SC_DB_URL`` or ``MONGO_URL``, unless a store or client is given)."""

    def __init__(self, settings_path: str | None = None, store: Any = None, db_name: str | None = None) -> None:
        from sccli.settings import load_settings

        self.settings_path = settings_path
        self.settings = load_settings(settings_path)
        self._store = store
        self._db_name = db_name
        self._handlers: dict[str, str] = {}

    @property
    def job_handlers(self) -> dict[str, str]:
        """Extra job types and their handlers (``module:name``); the built-in types always run."""
        return dict(self._handlers)

    @job_handlers.setter
    def job_handlers(self, handlers: Mapping[str, Callable[..., Any] | str]) -> None:
        self._handlers = {str(getattr(name, "value", name)): handler_target(h) for name, h in handlers.items()}

    @property
    def store(self) -> Any:
        from sccli.queue import as_store

        if self._store is None:
            url = self.settings.db_url or os.environ.get("SC_DB_URL") or os.environ.get("MONGO_URL")
            self._store = as_store(url, self._db_name or self.settings.db_name)
        else:
            self._store = as_store(self._store, self._db_name or self.settings.db_name)
        return self._store

    def run(self, until_idle: bool = False, pid_file: str | None = None) -> int:
        """Serve until SIGTERM (drain), or until idle with ``until_idle``; the exit code."""
        from sccli.service import run_service
        from sccli.service.config import ServiceOptions

        os.environ[HANDLERS_ENV] = json.dumps(self._handlers)
        self.settings.handlers = {**self.settings.handlers, **{name: DISPATCHER for name in self._handlers}}
        return run_service(self.store, self.settings, ServiceOptions(pid_file=pid_file, until_idle=until_idle))

    start = run
