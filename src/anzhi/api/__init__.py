"""The platform API (FastAPI): systems, findings, risks, controls, assessments, reports, audit, taxonomy, access.

One package per domain, each with its ``router`` and ``schemas``; every route is under ``/api/v1``, has a stable
operation id and needs a bearer token except ``/healthz`` and the docs::

    from anzhi.api import create_app, serve
    from anzhi.workspace import Workspace

    app = create_app(Workspace.open())      # mount or test it
    serve(Workspace.open(), port=8600)      # or run it with uvicorn
"""

from anzhi.api._app import create_app, serve

__all__ = ["create_app", "serve"]
