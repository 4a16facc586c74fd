"""`aikom keys issue|deactivate|regenerate --as PERSON`: only an institute admin changes keys directly (with
a reason); a director, an ОУО admin or a deputy is refused in Ukrainian and nothing changes. A new API key
is never printed to the admin: it waits for ONE showing to the account's director, grants moved to it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from aikom.cli import keys as keys_cli
from aikom.models import AccessKey, AuditEntry, KeyState, OisGrant, PersonRole
from aikom.processes.ois_access import OisAccessParams
from aikom.services import accounts, ois_access
from aikom.services import keys as key_service
from tests import factories as f

runner = CliRunner()


@pytest.fixture(autouse=True)
def cli_session(session: Session, monkeypatch: pytest.MonkeyPatch) -> Session:
    """Point the commands' unit of work at the rolled-back test session."""

    @contextmanager
    def unit_of_work() -> Iterator[Session]:
        yield session
        session.flush()

    monkeypatch.setattr(keys_cli, "unit_of_work", unit_of_work)
    return session


def _run(*args: str) -> tuple[int, Any]:
    result = runner.invoke(keys_cli.app, [*args, "--json"])
    return result.exit_code, json.loads(result.stdout)


def test_only_an_institute_admin_issues_deactivates_and_regenerates(session: Session) -> None:
    units = f.cascade(session, with_edrpou=True)
    school_account = f.account(session, units["school"])
    hromada_account = f.account(session, units["hromada"])
    director = f.person(session, school_account, role=PersonRole.DIRECTOR)
    refused_people = {
        "director": director,
        "deputy": f.person(session, school_account, role=PersonRole.DEPUTY, email="deputy-keys@example.org"),
        "hromada_admin": f.person(session, hromada_account, role=PersonRole.HROMADA_ADMIN),
    }
    admin = f.person(session, f.account(session, units["national"]), role=PersonRole.INSTITUTE_ADMIN)
    issued = key_service.issue_account_keys(session=session, account=school_account, actor_label="тест")
    ois = f.connected_ois(session)
    grant_process = ois_access.start_grant(
        session=session,
        actor=f.actor(director),
        params=OisAccessParams(
            ois=ois.id, data_sets=["journal"], contract_number="1", contract_date=date(2026, 2, 2)
        ),
    )
    grant = session.scalars(select(OisGrant).where(OisGrant.process_id == grant_process.id)).one()
    key = str(issued.api.key_id)

    for name, person in refused_people.items():
        ref = str(person.id) if name != "deputy" else person.email  # by card number or by email
        for args in (
            ("deactivate", key, "--note", "х"),
            ("regenerate", key, "--note", "х"),
            ("issue", "--org", f"id:{units['rayon'].id}"),
        ):
            code, refused = _run(*args, "--as", ref)
            assert code == 1 and refused["error"] == "role_not_allowed", (name, args, refused)
            assert "лише технічний адміністратор ІОА" in refused["message"]
    assert session.get_one(AccessKey, issued.api.key_id).state == KeyState.ACTIVE
    code, unknown = _run("deactivate", key, "--note", "х", "--as", "nobody@example.org")
    assert code == 1 and unknown["error"] == "not_found" and "не знайдено" in unknown["message"]

    # No reason: refused naming the field.
    for command in ("regenerate", "deactivate"):
        code, no_reason = _run(command, key, "--as", str(admin.id))
        assert code == 1 and no_reason["error"] == "validation_failed" and "ричин" in no_reason["message"]

    code, done = _run("regenerate", key, "--note", "Запит ЗО №12", "--as", str(admin.id))
    assert code == 0, done
    assert "token" not in done["key"] and "один раз" in done["message"]
    assert done["moved_grant_ids"] == [grant.id]
    session.refresh(grant)
    assert grant.api_key_id == done["key"]["key_id"]
    revealed = accounts.reveal_api_key(session=session, person_id=director.id)
    assert revealed is not None and revealed.key_id == done["key"]["key_id"]
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "access_key.regenerated").order_by(AuditEntry.id.desc())
    ).first()
    assert entry is not None and entry.actor_person_id == admin.id and entry.actor_label == admin.full_name

    code, issued_rayon = _run("issue", "--org", f"id:{units['rayon'].id}", "--as", str(admin.id))
    assert code == 0 and {k["kind"] for k in issued_rayon["keys"]} == {"base", "api"}
