"""The HTTP API (``sc api serve``): FastAPI over the same core as the CLI.

Needs the ``api`` extra (``pip install 'sccli[api]'``). Build the application with
:func:`create_app`; authentication helpers live in :mod:`sccli.api.auth`.
"""

from __future__ import annotations

from sccli.api.app import DOCS_URL, OPENAPI_URL, create_app, serve
from sccli.api.auth import check_can_serve, resolve_tokens

__all__ = ["DOCS_URL", "OPENAPI_URL", "check_can_serve", "create_app", "resolve_tokens", "serve"]
