"""The management layer (管理层): inventory, risk register and its closed loop, compliance assessment, audit.

Checks hand in ``FindingBatch`` objects; everything that happens to a finding afterwards happens here.
Functions take a SQLAlchemy ``Session`` (the caller owns the transaction) and an ``actor`` for the audit
trail.
"""

from anzhi.govern._access import (
    TOKEN_PREFIX,
    authenticate,
    bootstrap_admin,
    create_user,
    hash_token,
    issue_token,
    require_role,
    revoke_token,
)
from anzhi.govern._assessment import (
    AssessmentSummary,
    attest_item,
    create_assessment,
    get_assessment,
    list_assessments,
    refresh_assessment,
    summarize_assessment,
)
from anzhi.govern._audit import AuditProblem, AuditVerification, record_audit, verify_audit_chain
from anzhi.govern._controls import ControlSpec, create_control, find_control, list_controls
from anzhi.govern._grading import LEVEL_NAME_STATUS, LEVEL_NAMES, grade, level_rank, suggest_likelihood_impact
from anzhi.govern._ingest import IngestResult, ingest_batch
from anzhi.govern._inventory import (
    SECTORS,
    AssetSpec,
    SystemSpec,
    SystemUpdate,
    add_asset,
    create_system,
    find_system,
    get_system,
    list_systems,
    update_system,
)
from anzhi.govern._loop import (
    ALLOWED_TRANSITIONS,
    TransitionRequest,
    allowed_targets,
    expire_acceptances,
    get_risk,
    transition_risk,
)
from anzhi.govern._register import Page, RiskFilter, list_check_runs, list_findings, list_risks, risk_history
from anzhi.govern._report import REPORT_SCHEMA_VERSION, SystemReport
from anzhi.govern._report_data import build_report
from anzhi.govern._report_html import ReportLang, render_report_html

__all__ = [
    "ALLOWED_TRANSITIONS",
    "LEVEL_NAMES",
    "LEVEL_NAME_STATUS",
    "REPORT_SCHEMA_VERSION",
    "SECTORS",
    "TOKEN_PREFIX",
    "AssessmentSummary",
    "AssetSpec",
    "AuditProblem",
    "AuditVerification",
    "ControlSpec",
    "IngestResult",
    "Page",
    "ReportLang",
    "RiskFilter",
    "SystemReport",
    "SystemSpec",
    "SystemUpdate",
    "TransitionRequest",
    "add_asset",
    "allowed_targets",
    "attest_item",
    "authenticate",
    "bootstrap_admin",
    "build_report",
    "create_assessment",
    "create_control",
    "create_system",
    "create_user",
    "expire_acceptances",
    "find_control",
    "find_system",
    "get_assessment",
    "get_risk",
    "get_system",
    "grade",
    "hash_token",
    "ingest_batch",
    "issue_token",
    "level_rank",
    "list_assessments",
    "list_check_runs",
    "list_controls",
    "list_findings",
    "list_risks",
    "list_systems",
    "record_audit",
    "refresh_assessment",
    "render_report_html",
    "require_role",
    "revoke_token",
    "risk_history",
    "suggest_likelihood_impact",
    "summarize_assessment",
    "transition_risk",
    "update_system",
    "verify_audit_chain",
]
