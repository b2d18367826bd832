"""The audit trail: append-only events, each hash-chained to the one before, and a verifier that names breaks.

``hash = sha256(prev_hash ‖ canonical JSON of (seq, at, actor, action, entity_type, entity_id, data))``.
The newest event's seq and hash are also kept in ``audit_head``, so removing events from the end shows too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from anzhi.store import AuditEvent, AuditHead, utcnow

__all__ = ["GENESIS_HASH", "AuditProblem", "AuditVerification", "record_audit", "verify_audit_chain"]

GENESIS_HASH = "0" * 64
_HEAD_ID = 1


def _canonical(
    seq: int, at: datetime, actor: str, action: str, entity_type: str, entity_id: str, data: dict[str, Any]
) -> bytes:
    body = {
        "seq": seq,
        "at": at.isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "data": data,
    }
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")


def _chain_hash(prev_hash: str, payload: bytes) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + payload).hexdigest()


def record_audit(
    session: Session,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: object,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain inside the caller's transaction (it commits or rolls back with it)."""
    head = session.execute(select(AuditHead).where(AuditHead.id == _HEAD_ID).with_for_update()).scalar_one_or_none()
    prev_seq, prev_hash = (head.seq, head.hash) if head is not None else (0, GENESIS_HASH)
    seq = prev_seq + 1
    at = utcnow()
    payload_data = json.loads(json.dumps(data or {}, ensure_ascii=False, default=str))
    digest = _chain_hash(prev_hash, _canonical(seq, at, actor, action, entity_type, str(entity_id), payload_data))
    event = AuditEvent(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        data=payload_data,
        prev_hash=prev_hash,
        hash=digest,
    )
    session.add(event)
    if head is None:
        session.add(AuditHead(id=_HEAD_ID, seq=seq, hash=digest))
    else:
        head.seq, head.hash = seq, digest
    session.flush()
    return event


@dataclass(frozen=True)
class AuditProblem:
    """One break in the chain, with the sequence number it concerns."""

    seq: int
    kind: str  # tampered | missing | relinked | head_mismatch
    message: str


@dataclass
class AuditVerification:
    """Result of walking the whole chain."""

    checked: int = 0
    problems: list[AuditProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems


def verify_audit_chain(session: Session, *, batch_size: int = 5000) -> AuditVerification:
    """Recompute every hash in order; report tampered, missing, re-linked events and a truncated tail."""
    result = AuditVerification()
    expected_seq = 1
    prev_hash = GENESIS_HASH
    last_id = 0
    while True:
        rows = (
            session.execute(select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch_size))
            .scalars()
            .all()
        )
        if not rows:
            break
        for event in rows:
            last_id = event.id
            result.checked += 1
            if event.seq != expected_seq:
                if event.seq > expected_seq:
                    gap = f"{expected_seq}" if event.seq == expected_seq + 1 else f"{expected_seq}–{event.seq - 1}"
                    result.problems.append(
                        AuditProblem(expected_seq, "missing", f"event(s) {gap} missing before event {event.seq}")
                    )
                else:
                    result.problems.append(
                        AuditProblem(
                            event.seq, "relinked", f"event {event.seq} is out of order after {expected_seq - 1}"
                        )
                    )
            if event.prev_hash != prev_hash:
                result.problems.append(
                    AuditProblem(event.seq, "relinked", f"event {event.seq} does not link to the event before it")
                )
            payload = _canonical(
                event.seq, event.at, event.actor, event.action, event.entity_type, event.entity_id, event.data
            )
            if _chain_hash(event.prev_hash, payload) != event.hash:
                result.problems.append(
                    AuditProblem(
                        event.seq,
                        "tampered",
                        f"event {event.seq} ({event.action} {event.entity_type} {event.entity_id}) "
                        "was changed after it was written",
                    )
                )
            prev_hash = event.hash
            expected_seq = max(expected_seq, event.seq) + 1
        for event in rows:  # keep memory flat on long chains without detaching the caller's objects
            session.expunge(event)
    head = session.get(AuditHead, _HEAD_ID)
    last_seq = expected_seq - 1
    if head is None and result.checked:
        result.problems.append(AuditProblem(last_seq, "head_mismatch", "the audit head record is missing"))
    elif head is not None and (head.seq != last_seq or head.hash != prev_hash):
        if head.seq > last_seq:
            message = f"events {last_seq + 1}–{head.seq} are missing from the end of the chain"
        else:
            message = f"the chain ends at event {last_seq} but the head records event {head.seq}"
        result.problems.append(AuditProblem(head.seq, "head_mismatch", message))
    return result
