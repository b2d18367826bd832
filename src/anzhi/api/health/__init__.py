"""The health check."""

from anzhi.api.health.router import router

__all__ = ["router"]
