"""A school's ОІС access end to end: the CLI, a real Prefect server and runner, КЕП-signed decisions and
the emails through SMTP — grants by the director, a revocation approved by an institute admin (grant
revoked, old key dead, a new key shown once, the other grant moved to it), and a key regeneration."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from aikom.db import session_factory, unit_of_work
from aikom.mail.delivery import deliver_pending_sync
from aikom.mail.sink import MailboxMessage, read_mailbox, start_sink
from aikom.models import (
    AccessKey,
    ApprovalTask,
    Decision,
    GrantState,
    KeyState,
    OisGrant,
    Person,
    PersonRole,
)
from aikom.services import accounts
from aikom.services.keys import issue_account_keys
from aikom.settings import Settings
from tests import factories as f
from tests.flows.conftest import CliCall, SignedDecide, wait_for_process, wait_for_step


@dataclass
class School:
    school_id: int
    api_key_id: int
    api_token: str
    director: int
    director_email: str
    deputy: int
    institute_admin: int
    ois_a: int
    ois_a_email: str
    ois_b: int
    ois_b_email: str


def _school(database_url: str) -> School:
    with unit_of_work(database_url) as s:
        units = f.cascade(s, with_edrpou=True)
        units["national"].edrpou = f.edrpou()
        account = f.account(s, units["school"])
        national = f.account(s, units["national"])
        director = f.person(s, account, role=PersonRole.DIRECTOR, rnokpp=f.rnokpp())
        deputy = f.person(s, account, role=PersonRole.DEPUTY, rnokpp=f.rnokpp(), appointed_by=director)
        admin = f.person(s, national, role=PersonRole.INSTITUTE_ADMIN, rnokpp=f.rnokpp())
        issued = issue_account_keys(session=s, account=account, actor_label="test")
        a = f.connected_ois(s, name="Нові знання")
        b = f.connected_ois(s, name="Мій клас")
        return School(
            school_id=units["school"].id,
            api_key_id=issued.api.key_id,
            api_token=issued.api.token,
            director=director.id,
            director_email=director.email,
            deputy=deputy.id,
            institute_admin=admin.id,
            ois_a=a.id,
            ois_a_email=a.contact_email,
            ois_b=b.id,
            ois_b_email=b.contact_email,
        )


def _grant(cli: CliCall, who: int, ois: int) -> tuple[int, dict[str, object]]:
    return cli(
        "ois", "grant", "--as", str(who), "--ois", str(ois), "--data-set", "journal", "--data-set", "pupils",
        "--contract-number", "ДГ-5/2026", "--contract-date", "2026-09-01",
    )  # fmt: skip


def _grant_id(database_url: str, school_id: int, ois_id: int) -> int:
    with unit_of_work(database_url) as s:
        return s.scalars(
            select(OisGrant.id).where(OisGrant.school_org_unit_id == school_id, OisGrant.ois_id == ois_id)
        ).one()


def _task(database_url: str, process_id: int) -> ApprovalTask:
    with unit_of_work(database_url) as s:
        return s.scalars(
            select(ApprovalTask).where(
                ApprovalTask.process_id == process_id, ApprovalTask.step_key == "approve"
            )
        ).one()


def _key_check(cli: CliCall, token: str) -> str:
    _, checked = cli("keys", "check", token)
    return str(checked["reason"])


def _mail(database_url: str, tmp_path: Path) -> list[MailboxMessage]:
    mailbox = tmp_path / "mailbox"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    sink = start_sink(mailbox, port=port)
    try:
        settings = Settings(database_url=database_url, smtp_port=port)
        while deliver_pending_sync(settings, session_factory(database_url)).sent:
            pass
    finally:
        sink.stop()
    return read_mailbox(mailbox)


def test_a_director_grants_and_a_revocation_replaces_the_key_and_moves_the_other_grant(
    cli: CliCall, cli_decide: SignedDecide, database_url: str, api_url: str, tmp_path: Path
) -> None:
    w = _school(database_url)

    # A deputy never grants: refused before anything is recorded.
    code, refused = _grant(cli, w.deputy, w.ois_a)
    assert code == 1 and refused["error"] == "role_not_allowed", refused
    assert "директору ЗО" in str(refused["message"])

    for ois in (w.ois_a, w.ois_b):
        code, started = _grant(cli, w.director, ois)
        assert code == 0 and started["started"] is True, started
        view = wait_for_process(database_url, int(str(started["process_id"])))
        assert view.state == "completed" and view.outcome is not None and "надано" in view.outcome
    revoked_id = _grant_id(database_url, w.school_id, w.ois_a)
    kept_id = _grant_id(database_url, w.school_id, w.ois_b)
    code, twice = _grant(cli, w.director, w.ois_a)
    assert code == 1 and twice["error"] == "grant_exists", twice

    code, listed = cli("ois", "grants", "--as", str(w.director))
    assert code == 0 and {g["state"] for g in listed["grants"]} == {"active"}
    assert listed["api_key"]["state"] == "active" and w.api_token not in str(listed)

    # The director asks; an institute admin approves with a signed decision.
    code, started = cli(
        "ois", "revoke", str(revoked_id), "--as", str(w.director), "--reason", "Договір розірвано"
    )
    assert code == 0, started
    process_id, run_id = int(started["process_id"]), str(started["flow_run_id"])
    wait_for_step(run_id, "approve", api_url)
    task = _task(database_url, process_id)
    assert task.allowed_roles == [PersonRole.INSTITUTE_ADMIN.value]
    assert _key_check(cli, w.api_token) == "ok"  # nothing changes before the decision
    code, decided = cli_decide(task.id, w.institute_admin, Decision.APPROVE, "Погоджено")
    assert code == 0, decided

    view = wait_for_process(database_url, process_id)
    assert view.state == "completed", view.outcome
    assert view.outcome is not None and "Інші доступи закладу перенесено на новий ключ: 1" in view.outcome
    assert _key_check(cli, w.api_token) == "deactivated"
    with unit_of_work(database_url) as s:
        revoked = s.get_one(OisGrant, revoked_id)
        kept = s.get_one(OisGrant, kept_id)
        assert revoked.state == GrantState.REVOKED and revoked.revoked_by_id == w.institute_admin
        assert revoked.revoke_reason is not None and "Договір розірвано" in revoked.revoke_reason
        assert s.get_one(AccessKey, w.api_key_id).state == KeyState.DEACTIVATED
        new_key = s.get_one(AccessKey, kept.api_key_id)
        assert kept.state == GrantState.ACTIVE and new_key.replaces_id == w.api_key_id
        shown = accounts.reveal_api_key(session=s, person_id=w.director)
    assert shown is not None and shown.key_id == new_key.id
    assert _key_check(cli, shown.token) == "ok"
    with unit_of_work(database_url) as s:
        assert accounts.reveal_api_key(session=s, person_id=w.director) is None  # once

    received = _mail(database_url, tmp_path)
    to_a = [m for m in received if m.to == w.ois_a_email]
    to_b = [m for m in received if m.to == w.ois_b_email]
    to_director = [m for m in received if m.to == w.director_email]
    assert any("надав доступ" in m.subject for m in to_a), [m.subject for m in to_a]
    assert any("відкликав доступ" in m.subject and "деактивовано" in m.text for m in to_a)
    assert any("новий ключ API" in m.subject and "зберігається" in m.text for m in to_b)
    assert any("«Ключ API»" in m.text for m in to_director), [m.text for m in to_director]
    assert all(shown.token not in m.text for m in received)  # the key is never emailed

    code, chain = cli("audit", "verify")
    assert code == 0 and chain["ok"] is True


def test_a_key_regeneration_approved_and_one_rejected(
    cli: CliCall, cli_decide: SignedDecide, database_url: str, api_url: str
) -> None:
    w = _school(database_url)
    code, started = _grant(cli, w.director, w.ois_a)
    assert code == 0, started
    wait_for_process(database_url, int(started["process_id"]))
    grant_id = _grant_id(database_url, w.school_id, w.ois_a)

    def ask() -> tuple[int, str]:
        code, started = cli(
            "process", "start", "key-regeneration", "--as", str(w.director), "--set", "reason=Ключ втрачено"
        )
        assert code == 0, started
        return int(started["process_id"]), str(started["flow_run_id"])

    # Rejected: the key still works.
    process_id, run_id = ask()
    wait_for_step(run_id, "approve", api_url)
    code, decided = cli_decide(_task(database_url, process_id).id, w.institute_admin, Decision.REJECT, "Ні")
    assert code == 0, decided
    assert wait_for_process(database_url, process_id).state == "rejected"
    assert _key_check(cli, w.api_token) == "ok"

    # Approved: the old key is dead, the new one is shown once and the grant moved to it.
    process_id, run_id = ask()
    wait_for_step(run_id, "approve", api_url)
    code, decided = cli_decide(_task(database_url, process_id).id, w.institute_admin, Decision.APPROVE)
    assert code == 0, decided
    view = wait_for_process(database_url, process_id)
    assert view.state == "completed" and view.outcome is not None and "перенесено" in view.outcome
    assert _key_check(cli, w.api_token) == "deactivated"
    with unit_of_work(database_url) as s:
        grant = s.get_one(OisGrant, grant_id)
        shown = accounts.reveal_api_key(session=s, person_id=w.director)
        assert shown is not None and grant.api_key_id == shown.key_id
        deputy = s.get_one(Person, w.deputy)
        assert accounts.reveal_api_key(session=s, person_id=deputy.id) is None
    assert _key_check(cli, shown.token) == "ok"
