"""Dependencies every route shares, as ``Annotated`` aliases: the workspace, a session, the caller and its role.

One request is one transaction. :func:`get_session` opens it (read-only for ``GET``/``HEAD``, so SQLite's write lock
is not taken), commits it when the route returns and rolls it back when anything raises, *before* the response is
sent: a client that sees a 2xx knows the change is stored, and a failed request leaves the database as it was.

Authentication runs in the same transaction. A write stamps the token's last use there (``authenticate``); a read only
identifies the token (``identify_token``) and, when the stamp is a minute old, writes it after the response in a short
transaction of its own (``touch_token``): a read never upgrades to a write (on SQLite that upgrade fails while another
request writes). Routes declare the role they need with one of :data:`Viewer`, :data:`Assessor` or :data:`Admin`
(or ``require(role)``); ``tests/api/test_contract.py`` checks that every route asks for a token.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated

from fastapi import BackgroundTasks, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from anzhi.errors import AuthError, StoreUnavailableError
from anzhi.govern import authenticate, identify_token, require_role, token_needs_touch, touch_token
from anzhi.store import Role, User, utcnow
from anzhi.taxonomy import Taxonomy
from anzhi.workspace import Workspace

__all__ = [
    "Admin",
    "Assessor",
    "CurrentUser",
    "SessionDep",
    "TaxonomyDep",
    "Viewer",
    "WorkspaceDep",
    "bearer_scheme",
    "get_current_user",
    "get_session",
    "get_taxonomy",
    "get_workspace",
    "require",
]

logger = logging.getLogger("anzhi.api")

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

#: The security scheme the OpenAPI document shows; errors are raised by :func:`get_current_user`, not here.
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="anzhiToken",
    description="An anzhi API token (`anz_…`): `anzhi init` prints the first admin's; admins issue more.",
)


def get_workspace(request: Request) -> Workspace:
    """The workspace the app was created for."""
    workspace: Workspace = request.app.state.workspace
    return workspace


WorkspaceDep = Annotated[Workspace, Depends(get_workspace)]


def get_taxonomy(workspace: WorkspaceDep) -> Taxonomy:
    """The workspace's loaded taxonomy and catalogs."""
    return workspace.taxonomy


TaxonomyDep = Annotated[Taxonomy, Depends(get_taxonomy)]


def get_session(request: Request, workspace: WorkspaceDep) -> Iterator[Session]:
    """The request's transaction: read-only for safe methods, committed before the response, rolled back on error."""
    with workspace.session(write=request.method not in _READ_METHODS) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def _stamp_last_use(workspace: Workspace, token_id: int, at: datetime) -> None:
    try:
        with workspace.session() as session:
            touch_token(session, token_id, at)
    except (OperationalError, StoreUnavailableError) as exc:
        logger.info("last use of API token %s not recorded (%s); the next request records it", token_id, exc)


def get_current_user(
    request: Request,
    session: SessionDep,
    workspace: WorkspaceDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    tasks: BackgroundTasks,
) -> User:
    """The user the bearer token belongs to; :class:`~anzhi.errors.AuthError` (401) when there is none."""
    if credentials is None and request.headers.get("authorization"):
        raise AuthError("the Authorization header must read 'Bearer <token>' (an anzhi token starts with 'anz_')")
    secret = credentials.credentials if credentials is not None else None
    if request.method not in _READ_METHODS:
        return authenticate(session, secret)
    token = identify_token(session, secret)
    now = utcnow()
    if token_needs_touch(token, now):
        tasks.add_task(_stamp_last_use, workspace, token.id, now)
    return token.user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require(role: Role) -> Callable[[User], User]:
    """A dependency that admits users whose role is ``role`` or higher (admin ⊇ assessor ⊇ viewer).

    Use it as ``Annotated[User, Depends(require(Role.ASSESSOR))]``, or through the aliases below.
    """

    def _check_role(user: CurrentUser) -> User:
        require_role(user, role)
        return user

    _check_role.__name__ = f"require_{role.value}"
    return _check_role


Viewer = Annotated[User, Depends(require(Role.VIEWER))]
"""Any authenticated user: reads."""
Assessor = Annotated[User, Depends(require(Role.ASSESSOR))]
"""An assessor or admin: changes governance data."""
Admin = Annotated[User, Depends(require(Role.ADMIN))]
"""An admin: manages users and tokens."""
