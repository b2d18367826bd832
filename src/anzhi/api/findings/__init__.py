"""Findings: import check runs (anzhi JSON or SARIF 2.1.0), list stored findings and check runs."""

from anzhi.api.findings.router import router

__all__ = ["router"]
