"""Users, roles and API tokens. Tokens are shown once and stored only as SHA-256."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from anzhi.errors import AuthError, ConflictError, NotFoundError, PermissionDeniedError
from anzhi.govern._audit import record_audit
from anzhi.store import ApiToken, Role, User, utcnow

__all__ = [
    "TOKEN_PREFIX",
    "authenticate",
    "bootstrap_admin",
    "create_user",
    "find_user",
    "get_user",
    "hash_token",
    "identify_token",
    "issue_token",
    "list_tokens",
    "list_users",
    "require_role",
    "revoke_token",
    "token_needs_touch",
    "touch_token",
]

TOKEN_PREFIX = "anz_"  # noqa: S105 - a public marker, not a secret
_LAST_USED_GRANULARITY = timedelta(minutes=1)

#: Which roles satisfy which requirement: admin ⊇ assessor ⊇ viewer.
_ROLE_RANK = {Role.VIEWER: 1, Role.ASSESSOR: 2, Role.ADMIN: 3}


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_user(session: Session, name: str, role: Role, *, actor: str) -> User:
    """Add a user; names are unique."""
    if session.execute(select(User.id).where(User.name == name)).first() is not None:
        raise ConflictError(f"a user named {name!r} already exists")
    user = User(name=name, role=role)
    session.add(user)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="user.created",
        entity_type="user",
        entity_id=user.id,
        data={"name": name, "role": role.value},
    )
    return user


def issue_token(session: Session, user: User, *, actor: str, name: str = "") -> tuple[str, ApiToken]:
    """Make a new token for a user; returns the secret (shown once) and the stored record."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=hash_token(secret), prefix=secret[:10])
    session.add(token)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="token.issued",
        entity_type="api_token",
        entity_id=token.id,
        data={"user": user.name, "name": name, "prefix": token.prefix},
    )
    return secret, token


def revoke_token(session: Session, token_id: int, *, actor: str) -> ApiToken:
    """Revoke a token now; it is refused from the next request on."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFoundError("api token", token_id)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.flush()
        record_audit(
            session,
            actor=actor,
            action="token.revoked",
            entity_type="api_token",
            entity_id=token.id,
            data={"prefix": token.prefix},
        )
    return token


def identify_token(session: Session, secret: str | None) -> ApiToken:
    """The live token a bearer secret names, or :class:`AuthError` saying what is wrong with it; writes nothing."""
    if not secret:
        raise AuthError("no API token: send 'Authorization: Bearer <token>' (anzhi init printed the first one)")
    if not secret.startswith(TOKEN_PREFIX):
        raise AuthError("not an anzhi API token (they start with 'anz_')")
    digest = hash_token(secret)
    token = session.execute(select(ApiToken).where(ApiToken.token_hash == digest)).scalar_one_or_none()
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        raise AuthError("unknown API token")
    if token.revoked_at is not None:
        raise AuthError("this API token was revoked; ask an admin for a new one")
    if token.user.disabled:
        raise AuthError(f"user {token.user.name!r} is disabled")
    return token


def token_needs_touch(token: ApiToken, now: datetime) -> bool:
    """Whether a use at ``now`` should be stamped: last-use stamps are kept to one a minute per token."""
    return token.last_used_at is None or now - token.last_used_at > _LAST_USED_GRANULARITY


def touch_token(session: Session, token_id: int, at: datetime) -> None:
    """Stamp a token's last use as ``at``, unless its stamp is already later than a minute before ``at``.

    The one-a-minute rule of :func:`token_needs_touch` is part of the ``UPDATE`` itself, so stamps written
    concurrently, or late, never move the time back.
    """
    session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id,
               or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < at - _LAST_USED_GRANULARITY))
        .values(last_used_at=at)
        .execution_options(synchronize_session="fetch")
    )


def authenticate(session: Session, secret: str | None) -> User:
    """The user a bearer token belongs to, stamping the token's last use (at most once a minute).

    Use it in a write transaction; a read-only caller uses :func:`identify_token` and stamps later with
    :func:`touch_token` in a transaction of its own.
    """
    token = identify_token(session, secret)
    now = utcnow()
    if token_needs_touch(token, now):
        touch_token(session, token.id, now)
    return token.user


def get_user(session: Session, user_id: int) -> User:
    """A user by id, or :class:`NotFoundError`."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError("user", user_id)
    return user


def find_user(session: Session, key: str | int) -> User:
    """A user by name, or by id when ``key`` is an int, or digits that no user has as a name."""
    if isinstance(key, int):
        return get_user(session, key)
    user = session.execute(select(User).where(User.name == key)).scalar_one_or_none()
    if user is None and key.isdigit():
        user = session.get(User, int(key))
    if user is None:
        raise NotFoundError("user", key)
    return user


def list_users(session: Session) -> list[User]:
    """Every user, by name."""
    return list(session.execute(select(User).order_by(User.name)).scalars())


def list_tokens(session: Session, user_id: int | None = None) -> list[ApiToken]:
    """Tokens, oldest first, revoked ones included: every user's, or one user's."""
    statement = select(ApiToken).order_by(ApiToken.id)
    if user_id is not None:
        statement = statement.where(ApiToken.user_id == user_id)
    return list(session.execute(statement).scalars())


def require_role(user: User, needed: Role) -> None:
    """Raise :class:`PermissionDeniedError` unless the user's role is at least ``needed``."""
    if _ROLE_RANK[user.role] < _ROLE_RANK[needed]:
        raise PermissionDeniedError(
            f"user {user.name!r} has role {user.role.value!r}; this needs {needed.value!r} or higher"
        )


def bootstrap_admin(session: Session, *, name: str = "admin") -> str | None:
    """On an empty workspace, create the first admin and return its token (shown once); else None."""
    if session.scalar(select(func.count()).select_from(User)):
        return None
    user = create_user(session, name, Role.ADMIN, actor="system")
    secret, _ = issue_token(session, user, actor="system", name="first admin token")
    return secret
