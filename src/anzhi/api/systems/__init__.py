"""AI systems under governance and their assets."""

from anzhi.api.systems.router import router

__all__ = ["router"]
