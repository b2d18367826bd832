"""How errors leave the API: one body shape, one status per branch of the :mod:`anzhi.errors` tree.

Every error response reads ``{"error": {"type": ..., "message": ..., **details}}``:

| raised | status | details |
|---|---|---|
| ``AuthError`` | 401, with ``WWW-Authenticate: Bearer`` | |
| ``PermissionDeniedError`` | 403 | |
| ``NotFoundError`` | 404 | ``kind``, ``key`` |
| ``ConflictError`` | 409 | |
| ``IllegalTransitionError`` | 409 | ``risk_id``, ``current``, ``target``, ``allowed`` |
| ``InputError`` (``FindingsFormatError``, ``UnknownIdError``) | 422 | ``kind``, ``value`` for unknown ids |
| request validation | 422 | ``problems``: ``[{field, message, type}]`` |
| ``StoreUnavailableError``, a database that does not answer | 503 | |
| any other ``AnzhiError`` | 500 | |

The route's transaction has already been rolled back when these run (see :mod:`anzhi.api.deps`).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException

from anzhi.errors import (
    AnzhiError,
    AuthError,
    ConflictError,
    IllegalTransitionError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    StoreUnavailableError,
    UnknownIdError,
)

__all__ = [
    "ERROR_RESPONSES",
    "ErrorBody",
    "ErrorResponse",
    "error_response",
    "install_error_handlers",
    "status_for",
]

logger = logging.getLogger("anzhi.api")

_STATUS: dict[type[AnzhiError], int] = {
    PermissionDeniedError: 403,
    AuthError: 401,
    NotFoundError: 404,
    ConflictError: 409,
    InputError: 422,
    StoreUnavailableError: 503,
}


class ErrorBody(BaseModel):
    """What went wrong: the error's type, a message saying what to do next, and type-specific details."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="the error class, e.g. NotFoundError or RequestValidationError")
    message: str = Field(description="what was wrong and what to do next")


class ErrorResponse(BaseModel):
    """Body of every error response."""

    error: ErrorBody


def error_response(status: int, description: str) -> dict[int | str, dict[str, Any]]:
    """An OpenAPI ``responses`` entry for an error status, with the error body's schema."""
    return {status: {"model": ErrorResponse, "description": description}}


#: OpenAPI ``responses`` entries for the errors any authenticated route may answer.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    **error_response(401, "missing, unknown or revoked token"),
    **error_response(403, "the role does not allow this"),
    **error_response(422, "the request is not valid; the message names the field"),
}


def status_for(error: AnzhiError) -> int:
    """The HTTP status an anzhi error maps to (500 for errors that are the server's fault)."""
    for cls in type(error).__mro__:
        status = _STATUS.get(cls)
        if status is not None:
            return status
    return 500


def _jsonable(value: object) -> object:
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


def _details(error: AnzhiError) -> dict[str, object]:
    if isinstance(error, IllegalTransitionError):
        return {"risk_id": error.risk_id, "current": error.current, "target": error.target, "allowed": error.allowed}
    if isinstance(error, NotFoundError):
        return {"kind": error.kind, "key": _jsonable(error.key)}
    if isinstance(error, UnknownIdError):
        return {"kind": error.kind, "value": error.value}
    return {}


def _error(status: int, type_: str, message: str, *, headers: dict[str, str] | None = None,
           **details: object) -> JSONResponse:
    return JSONResponse({"error": {"type": type_, "message": message, **details}}, status_code=status,
                        headers=headers)


def _anzhi_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, AnzhiError):  # pragma: no cover - registered for AnzhiError only
        raise exc
    status = status_for(exc)
    headers = None
    if status == 401:
        challenge = 'Bearer realm="anzhi"'
        if request.headers.get("authorization"):
            challenge += ', error="invalid_token"'
        headers = {"WWW-Authenticate": challenge}
    if status >= 500:
        logger.error("%s %s failed: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
    return _error(status, type(exc).__name__, str(exc), headers=headers, **_details(exc))


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):  # pragma: no cover - registered for RequestValidationError only
        raise exc
    problems = []
    for item in exc.errors():
        field = ".".join(str(part) for part in item.get("loc", ()))
        problems.append({"field": field, "message": str(item.get("msg", "")), "type": str(item.get("type", ""))})
    shown = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:5])
    more = f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
    return _error(422, "RequestValidationError", f"invalid request: {shown}{more}", problems=problems)


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, HTTPException):  # pragma: no cover - registered for HTTPException only
        raise exc
    return _error(exc.status_code, "HTTPError", str(exc.detail), headers=dict(exc.headers or {}))


def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    logger.warning("%s %s: database error: %s", request.method, request.url.path, exc)
    return _error(503, "StoreUnavailableError",
                  "the database did not answer (busy or unreachable); nothing was changed, retry shortly")


def _integrity_error(request: Request, exc: Exception) -> JSONResponse:
    logger.warning("%s %s: integrity error: %s", request.method, request.url.path, exc)
    return _error(409, "ConflictError", "the change clashes with stored data (a concurrent duplicate?); "
                  "nothing was changed, reload and retry")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn errors into the documented body and status."""
    app.add_exception_handler(AnzhiError, _anzhi_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(IntegrityError, _integrity_error)
