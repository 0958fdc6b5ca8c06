"""Built-in handlers whose first attempt stops for good at a chosen point, its partial outputs
written, so a test can SIGKILL the service there (a marker file says the point was reached)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sccli.handlers.base import JobContext


def _stuck_on_first_attempt(ctx: JobContext, module: Any, name: str) -> None:
    if ctx.job.get("attempts") != 1:
        return

    def stuck(*_args: Any, **_kwargs: Any) -> None:
        (Path(ctx.settings.log_dir) / f"stuck-{ctx.job['job_id']}").write_text("partials written")
        time.sleep(600)

    setattr(module, name, stuck)


def extraction(ctx: JobContext) -> dict[str, Any]:
    """file_extraction, stuck with its staging tree extracted but not yet checked nor moved."""
    from sccli.handlers import extraction as module

    _stuck_on_first_attempt(ctx, module, "check_extracted_tree")
    return module.run(ctx)


def conversion(ctx: JobContext) -> dict[str, Any]:
    """dataset_conversion, stuck with its IDX written in the partial directory, not promoted."""
    from sccli.handlers import conversion as module

    _stuck_on_first_attempt(ctx, module, "strip_tree_bits")
    return module.run(ctx)
