"""The audit trail: verify its hash chain and read it."""

from anzhi.api.audit.router import router

__all__ = ["router"]
