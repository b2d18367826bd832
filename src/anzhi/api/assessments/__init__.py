"""Compliance assessments: one system against one catalog, item by item."""

from anzhi.api.assessments.router import router

__all__ = ["router"]
