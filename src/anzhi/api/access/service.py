"""Reading users and tokens (the govern layer creates, issues and revokes them)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from anzhi.errors import NotFoundError
from anzhi.store import ApiToken, User

__all__ = ["get_user", "list_tokens", "list_users"]


def get_user(session: Session, user_id: int) -> User:
    """A user by id, or :class:`NotFoundError`."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError("user", user_id)
    return user


def list_users(session: Session) -> list[User]:
    """Every user, by name."""
    return list(session.execute(select(User).order_by(User.name)).scalars())


def list_tokens(session: Session, user_id: int) -> list[ApiToken]:
    """A user's tokens, oldest first, revoked ones included."""
    return list(session.execute(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id)).scalars())
