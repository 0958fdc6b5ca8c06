"""sccli: the job-processing system of ScientistCloud and its administration CLI ``sc``.

The public API is importable from here lazily (``from sccli import JobQueue, open_store``),
so ``import sccli`` stays cheap for the CLI.
"""

from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "JobQueue": ("sccli.queue", "JobQueue"),
    "open_store": ("sccli.store", "open_store"),
    "JobQuery": ("sccli.store.base", "JobQuery"),
    "Store": ("sccli.store.base", "Store"),
    "ScError": ("sccli.errors", "ScError"),
    "JobType": ("sccli.domain", "JobType"),
    "JobStatus": ("sccli.domain", "JobStatus"),
    "DatasetStatus": ("sccli.domain", "DatasetStatus"),
    "add_dataset": ("sccli.datasets", "add_dataset"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> object:  # no typing import: `sc --help` stays cheap
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'sccli' has no attribute {name!r}")
