"""Reading an import's body: bounded in size before it is buffered, and decoded as JSON after authentication."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from anzhi.errors import FindingsFormatError

__all__ = ["DEFAULT_MAX_IMPORT_BYTES", "ImportBody", "decode_json", "read_import_body"]

#: Largest findings document one request may carry; larger scans are split into several runs.
DEFAULT_MAX_IMPORT_BYTES = 64 * 1024 * 1024


def _too_large(limit: int) -> HTTPException:
    return HTTPException(
        413,  # Content Too Large
        f"the request body is over the import limit of {limit} bytes ({limit / 2**20:g} MiB); "
        "split the findings into several documents (one per check run or scope) and import each",
    )


async def read_import_body(request: Request) -> bytes:
    """The raw body, refused with 413 as soon as it passes the app's import limit (Content-Length or streamed)."""
    limit: int = request.app.state.max_import_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


ImportBody = Annotated[bytes, Depends(read_import_body)]


def decode_json(raw: bytes) -> object:
    """Decode a JSON document (UTF-8, an optional BOM), or raise :class:`FindingsFormatError` saying where."""
    if not raw.strip():
        raise FindingsFormatError("the request body is empty; send the findings document as JSON")
    try:
        document: object = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise FindingsFormatError(f"the body is not UTF-8 text (byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise FindingsFormatError(f"the body is not valid JSON: {where}: {exc.msg}") from exc
    return document
