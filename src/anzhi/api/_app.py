"""The application factory and the server entry point."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio.to_thread
import uvicorn
from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from anzhi import __version__
from anzhi.api import access, assessments, audit, controls, findings, health, reports, risks, systems, taxonomy
from anzhi.api.errors import install_error_handlers
from anzhi.api.findings.body import DEFAULT_MAX_IMPORT_BYTES
from anzhi.errors import AnzhiError
from anzhi.workspace import Workspace

__all__ = ["API_PREFIX", "create_app", "serve"]

API_PREFIX = "/api/v1"

logger = logging.getLogger("anzhi.api")

_DESCRIPTION = """\
The platform API of **anzhi 安治**: inventory of AI systems, findings from checks, the risk register and its
closed loop, controls, compliance assessments against standards catalogs, reports and the audit trail.

Send `Authorization: Bearer <token>` on every call except `/healthz`: viewers read, assessors change governance
data, admins manage users and tokens. Errors read `{"error": {"type", "message", ...}}`.
"""

_TAGS = [
    {"name": "systems", "description": "AI systems under governance and their assets"},
    {"name": "findings", "description": "check runs and their findings (anzhi JSON or SARIF 2.1.0)"},
    {"name": "risks", "description": "the risk register and its closed loop"},
    {"name": "controls", "description": "safeguards bound to catalog requirements"},
    {"name": "assessments", "description": "compliance assessments against catalogs"},
    {"name": "reports", "description": "a system's governance report"},
    {"name": "audit", "description": "the hash-chained audit trail"},
    {"name": "taxonomy", "description": "risk taxonomies, catalogs and crosswalks (read-only)"},
    {"name": "access", "description": "users, roles and API tokens"},
    {"name": "health", "description": "liveness and schema status"},
]


def _explicit_operation_id(route: APIRoute) -> str:
    # The web console's client is generated from operation ids: every route names its own, deliberately.
    raise RuntimeError(f"route {sorted(route.methods or ())} {route.path} has no operation_id; give it a stable one")


def _sweeper(workspace: Workspace, every: float) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A lifespan that applies time-driven changes (expired acceptances reopen) at start and every ``every`` s."""

    async def sweep_forever(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                reopened = await anyio.to_thread.run_sync(workspace.sweep)
                if reopened:
                    logger.info("reopened %d risk(s) whose acceptance expired", reopened)
            except AnzhiError as exc:  # the database is away for now; try again next time
                logger.warning("sweep skipped: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(sweep_forever(stop))
        try:
            yield
        finally:
            # Let a sweep in progress finish (its database connection must go back before the engine closes).
            stop.set()
            await task

    return lifespan


def create_app(
    workspace: Workspace, *, max_import_bytes: int = DEFAULT_MAX_IMPORT_BYTES, sweep_seconds: float = 60.0
) -> FastAPI:
    """The API over a workspace (its database must be migrated: ``anzhi init``).

    Args:
        workspace: settings, store and taxonomy the routes work on; the caller closes it.
        max_import_bytes: the largest findings document one import request may carry (413 above it).
        sweep_seconds: how often the server reopens risks whose acceptance expired (while it runs).

    Returns:
        The FastAPI application; OpenAPI at ``/openapi.json``, interactive docs at ``/docs``.
    """
    if max_import_bytes < 1:
        raise ValueError(f"max_import_bytes must be positive, got {max_import_bytes}")
    app = FastAPI(
        lifespan=_sweeper(workspace, sweep_seconds),
        title="anzhi 安治",
        version=__version__,
        description=_DESCRIPTION,
        openapi_tags=_TAGS,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        generate_unique_id_function=_explicit_operation_id,
    )
    app.state.workspace = workspace
    app.state.max_import_bytes = max_import_bytes
    install_error_handlers(app)
    api = APIRouter(prefix=API_PREFIX, generate_unique_id_function=_explicit_operation_id)
    for domain in (systems, findings, risks, controls, assessments, reports, audit, taxonomy, access):
        api.include_router(domain.router)
    app.include_router(api)
    app.include_router(health.router)
    app.add_api_route("/", _to_docs, methods=["GET"], include_in_schema=False, operation_id="root_redirect")
    return app


def _to_docs() -> RedirectResponse:
    # Until the web console is mounted at "/", the front door is the API documentation.
    return RedirectResponse("/docs")


def _log_config() -> dict[str, Any]:
    config: dict[str, Any] = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    for handler in config["handlers"].values():
        handler["stream"] = "ext://sys.stderr"
    config["loggers"]["anzhi"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def serve(workspace: Workspace, host: str | None = None, port: int | None = None) -> None:
    """Run the API with uvicorn until interrupted; logs (access log included) go to stderr.

    Args:
        workspace: the workspace to serve; its schema must be current.
        host: address to bind (default: the ``ANZHI_HOST`` setting).
        port: port to bind (default: the ``ANZHI_PORT`` setting).

    Raises:
        StoreUnavailableError: the database cannot be reached or is not migrated (run ``anzhi init``).
    """
    workspace.store.ensure_current()
    app = create_app(workspace)
    bind_host = host or workspace.settings.host
    bind_port = port or workspace.settings.port
    logger.info("anzhi %s serving %s on http://%s:%d", __version__, workspace.store.url, bind_host, bind_port)
    uvicorn.run(app, host=bind_host, port=bind_port, log_config=_log_config())
