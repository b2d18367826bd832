"""Controls: safeguards that treat risks, bound to catalog requirements."""

from anzhi.api.controls.router import router

__all__ = ["router"]
