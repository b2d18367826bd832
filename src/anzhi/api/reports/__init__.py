"""Reports: a system's governance report (JSON, or HTML in Chinese, English or both)."""

from anzhi.api.reports.router import router

__all__ = ["router"]
