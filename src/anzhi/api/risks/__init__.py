"""The risk register: list, read and move risks through the closed loop."""

from anzhi.api.risks.router import router

__all__ = ["router"]
