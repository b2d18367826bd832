"""Access: who the caller is; users, roles and API tokens (admins)."""

from anzhi.api.access.router import router

__all__ = ["router"]
