"""The read side of the management layer: identifying tokens without writing, stamping their use, users, counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from anzhi.errors import AuthError, NotFoundError
from anzhi.govern import (
    AssetSpec,
    SystemCounts,
    SystemSpec,
    add_asset,
    authenticate,
    count_findings,
    create_system,
    create_user,
    find_user,
    get_risk,
    get_user,
    identify_token,
    ingest_batch,
    issue_token,
    list_audit_events,
    list_tokens,
    list_users,
    revoke_token,
    system_counts,
    system_names,
    token_needs_touch,
    touch_token,
)
from anzhi.store import ApiToken, AssetKind, FindingStatus, Risk, RiskLevel, RiskStatus, Role, utcnow
from anzhi.workspace import Workspace

from .helpers import batch, finding

ACTOR = "tester"
L, S = RiskLevel, RiskStatus


def _user_with_token(ws: Workspace, name: str = "alice", role: Role = Role.ASSESSOR) -> tuple[int, int, str]:
    """A new user and a token of theirs: (user id, token id, secret)."""
    with ws.session() as session:
        user = create_user(session, name, role, actor=ACTOR)
        secret, token = issue_token(session, user, actor=ACTOR, name="t")
        return user.id, token.id, secret


def _last_used(ws: Workspace, token_id: int) -> object:
    with ws.session(write=False) as session:
        return session.execute(select(ApiToken.last_used_at).where(ApiToken.id == token_id)).scalar_one()


def test_identify_token_finds_the_token_and_writes_nothing(workspace: Workspace) -> None:
    user_id, token_id, secret = _user_with_token(workspace)
    with workspace.session(write=False) as session:
        token = identify_token(session, secret)
        assert (token.id, token.user.id, token.user.name) == (token_id, user_id, "alice")
        assert not session.dirty and not session.new and not session.deleted
        assert token.last_used_at is None
    assert _last_used(workspace, token_id) is None


@pytest.mark.parametrize(
    ("secret", "says"),
    [
        (None, "no API token"),
        ("", "no API token"),
        ("sk-something-else", "not an anzhi API token"),
        ("anz_not-a-real-token", "unknown API token"),
    ],
)
def test_identify_token_refuses_missing_foreign_and_unknown_secrets(
    workspace: Workspace, secret: str | None, says: str
) -> None:
    _user_with_token(workspace)
    with workspace.session(write=False) as session, pytest.raises(AuthError, match=says):
        identify_token(session, secret)


def test_identify_token_refuses_a_revoked_token_and_a_disabled_user(workspace: Workspace) -> None:
    _, token_id, secret = _user_with_token(workspace)
    _, _, other = _user_with_token(workspace, "bob")
    with workspace.session() as session:
        revoke_token(session, token_id, actor=ACTOR)
    with workspace.session(write=False) as session, pytest.raises(AuthError, match="revoked"):
        identify_token(session, secret)
    with workspace.session() as session:
        find_user(session, "bob").disabled = True
    with workspace.session(write=False) as session, pytest.raises(AuthError, match="'bob' is disabled"):
        identify_token(session, other)
    with workspace.session() as session, pytest.raises(AuthError, match="revoked"):
        authenticate(session, secret)


def test_token_needs_touch_once_a_minute() -> None:
    now = utcnow()
    assert token_needs_touch(ApiToken(last_used_at=None), now)
    assert not token_needs_touch(ApiToken(last_used_at=now - timedelta(seconds=59)), now)
    assert not token_needs_touch(ApiToken(last_used_at=now), now)
    assert token_needs_touch(ApiToken(last_used_at=now - timedelta(seconds=61)), now)


def test_touch_token_stamps_at_most_once_a_minute_and_never_back(workspace: Workspace) -> None:
    _, token_id, _ = _user_with_token(workspace)
    first = utcnow()
    with workspace.session() as session:
        touch_token(session, token_id, first)
    assert _last_used(workspace, token_id) == first
    with workspace.session() as session:
        touch_token(session, token_id, first + timedelta(seconds=30))  # within the minute: kept
        touch_token(session, token_id, first - timedelta(minutes=5))  # a late, older stamp: kept
    assert _last_used(workspace, token_id) == first
    later = first + timedelta(seconds=61)
    with workspace.session() as session:
        touch_token(session, token_id, later)
    assert _last_used(workspace, token_id) == later


def test_authenticate_identifies_and_stamps_once_a_minute(workspace: Workspace) -> None:
    user_id, token_id, secret = _user_with_token(workspace)
    with workspace.session() as session:
        user = authenticate(session, secret)
        assert user.id == user_id
        assert identify_token(session, secret).last_used_at is not None  # the session sees its own stamp
    stamped = _last_used(workspace, token_id)
    assert stamped is not None
    with workspace.session() as session:
        authenticate(session, secret)
    assert _last_used(workspace, token_id) == stamped


def test_users_are_listed_by_name_and_found_by_name_or_id(workspace: Workspace) -> None:
    with workspace.session() as session:
        zed = create_user(session, "zed", Role.VIEWER, actor=ACTOR)
        amy = create_user(session, "amy", Role.ADMIN, actor=ACTOR)
        numeric = create_user(session, str(amy.id), Role.VIEWER, actor=ACTOR)  # a name that looks like an id
        ids = zed.id, amy.id, numeric.id
    with workspace.session(write=False) as session:
        assert [u.name for u in list_users(session)] == sorted(["zed", "amy", str(ids[1])])
        assert get_user(session, ids[0]).name == "zed"
        assert find_user(session, "amy").id == ids[1]
        assert find_user(session, ids[0]).name == "zed"
        assert find_user(session, str(ids[0])).name == "zed"  # digits no user is named: the id
        assert find_user(session, str(ids[1])).id == ids[2]  # a name wins over an id
        with pytest.raises(NotFoundError, match="user 999 not found"):
            get_user(session, 999)
        with pytest.raises(NotFoundError, match="user 'nobody' not found"):
            find_user(session, "nobody")


def test_tokens_are_listed_oldest_first_for_everyone_or_one_user(workspace: Workspace) -> None:
    alice_id, first, _ = _user_with_token(workspace)
    bob_id, second, _ = _user_with_token(workspace, "bob")
    with workspace.session() as session:
        _, third = issue_token(session, get_user(session, alice_id), actor=ACTOR)
        revoke_token(session, first, actor=ACTOR)
        third_id = third.id
    with workspace.session(write=False) as session:
        assert [t.id for t in list_tokens(session)] == [first, second, third_id]
        assert [t.id for t in list_tokens(session, alice_id)] == [first, third_id]
        assert [t.id for t in list_tokens(session, bob_id)] == [second]
        assert list_tokens(session, 999) == []


def test_counts_of_assets_risks_and_findings(workspace: Workspace) -> None:
    with workspace.session() as session:
        chatbot = create_system(session, SystemSpec(name="chatbot"), actor=ACTOR).id
        scorer = create_system(session, SystemSpec(name="scorer"), actor=ACTOR).id
        empty = create_system(session, SystemSpec(name="empty"), actor=ACTOR).id
        for name in ("llm", "faq"):
            add_asset(session, chatbot, AssetSpec(kind=AssetKind.MODEL, name=name), actor=ACTOR)
        add_asset(session, scorer, AssetSpec(kind=AssetKind.DATASET, name="train"), actor=ACTOR)
        ingested = ingest_batch(session, chatbot, batch(finding("R-1"), finding("R-2", file="b.pkl")),
                                taxonomy=workspace.taxonomy, actor=ACTOR)
        risk_id = ingested.risks_created[0]
        for taxonomy_id, level, status in [
            ("x.1", L.HIGH, S.TREATING),
            ("x.2", L.HIGH, S.TREATING),
            ("x.3", L.HIGH, S.CLOSED),
            ("x.4", L.LOW, S.ACCEPTED),
        ]:
            session.add(Risk(system_id=chatbot, taxonomy_id=taxonomy_id, title=taxonomy_id, level=level,
                             status=status))
        session.add(Risk(system_id=scorer, taxonomy_id="x.1", title="x", level=L.EXTREME, status=S.MONITORING))

    with workspace.session(write=False) as session:
        every = system_counts(session)
        ingested_level = get_risk(session, risk_id).level
        one = system_counts(session, chatbot)
        assert count_findings(session, risk_id=risk_id) == 2
        assert count_findings(session, system_id=chatbot, status=FindingStatus.OPEN, check_id="model.scan") == 2
        assert count_findings(session, system_id=scorer) == 0
        assert system_names(session) == {chatbot: "chatbot", scorer: "scorer", empty: "empty"}

    assert set(every) == {chatbot, scorer, empty}
    expected = {(L.HIGH, S.TREATING): 2, (L.HIGH, S.CLOSED): 1, (L.LOW, S.ACCEPTED): 1}
    expected[(ingested_level, S.IDENTIFIED)] = expected.get((ingested_level, S.IDENTIFIED), 0) + 1
    assert every[chatbot] == SystemCounts(assets=2, risks=expected)
    assert every[chatbot].open_risks == 3
    assert every[scorer] == SystemCounts(assets=1, risks={(L.EXTREME, S.MONITORING): 1})
    assert every[scorer].open_risks == 1
    assert every[empty] == SystemCounts() and every[empty].open_risks == 0
    assert one == {chatbot: every[chatbot]}
    with workspace.session(write=False) as session:
        assert system_counts(session, 999) == {}


def test_audit_events_are_listed_newest_first_and_filtered(workspace: Workspace) -> None:
    _user_with_token(workspace)
    with workspace.session(write=False) as session:
        page = list_audit_events(session)
        assert [e.action for e in page.items] == ["token.issued", "user.created"] and page.total == 2
        assert [e.seq for e in page.items] == sorted((e.seq for e in page.items), reverse=True)
        only = list_audit_events(session, entity_type="user", limit=1)
        assert [e.action for e in only.items] == ["user.created"] and only.total == 1
        assert list_audit_events(session, action="token.issued", offset=1).items == []
