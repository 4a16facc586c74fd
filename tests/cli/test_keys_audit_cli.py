"""`aikom keys …` and `aikom audit …` as a person or a script sees them: JSON, Ukrainian text, exit codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from aikom.cli import audit as audit_cli
from aikom.cli import keys as keys_cli
from aikom.core.keys import generate_token
from aikom.models import AccountState, OrgUnit, PersonRole
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
    monkeypatch.setattr(audit_cli, "unit_of_work", unit_of_work)
    return session


def _json(output: str) -> Any:
    return json.loads(output)


def _institute_admin(session: Session, national: OrgUnit) -> str:
    return str(f.person(session, f.account(session, national), role=PersonRole.INSTITUTE_ADMIN).id)


def test_issue_prints_both_keys_once_with_a_warning_and_check_accepts_them(session: Session) -> None:
    units = f.cascade(session)
    school = units["school"]
    school.edrpou = "20077720"
    admin = _institute_admin(session, units["national"])
    session.flush()

    result = runner.invoke(keys_cli.app, ["issue", "--org", "20077720", "--json", "--as", admin])
    assert result.exit_code == 0, result.output
    payload = _json(result.output)
    assert "один раз" in payload["warning"]
    tokens = {k["kind"]: k["token"] for k in payload["keys"]}
    assert tokens["base"].startswith("aikb_") and tokens["api"].startswith("aika_")

    pending = runner.invoke(keys_cli.app, ["check", tokens["api"], "--json"])
    assert pending.exit_code == 1
    assert _json(pending.output)["reason"] == "account_inactive"

    session.execute(
        text("UPDATE account SET state = :s WHERE id = :id"),
        {"s": AccountState.ACTIVE.value, "id": payload["account_id"]},
    )
    session.expire_all()
    ok = runner.invoke(keys_cli.app, ["check", tokens["api"], "--json"])
    assert ok.exit_code == 0
    checked = _json(ok.output)
    assert checked["valid"] is True and checked["reason"] == "ok" and checked["kind"] == "api"
    assert checked["org_unit"] == {"id": school.id, "name": school.name, "level": "school"}
    assert checked["scopes"] == ["data:read"]

    again = runner.invoke(keys_cli.app, ["issue", "--org", f"id:{school.id}", "--json", "--as", admin])
    assert again.exit_code == 1
    assert _json(again.output)["error"] == "keys_already_issued"


def test_check_explains_a_typo_in_ukrainian() -> None:
    token = generate_token("api").token
    typo = token[:-1] + ("a" if token[-1] != "a" else "b")
    result = runner.invoke(keys_cli.app, ["check", typo, "--json"])
    assert result.exit_code == 1
    payload = _json(result.output)
    assert payload["valid"] is False and payload["reason"] == "bad_checksum"
    assert "контрольна сума" in payload["message"] and payload["org_unit"] is None

    human = runner.invoke(keys_cli.app, ["check", "сміття"])
    assert human.exit_code == 1 and "Ключ недійсний" in human.output and "Traceback" not in human.output


def test_check_reads_the_key_from_stdin() -> None:
    result = runner.invoke(keys_cli.app, ["check", "-", "--json"], input=generate_token("base").token + "\n")
    assert _json(result.output)["reason"] == "unknown"


def test_deactivate_and_regenerate(session: Session) -> None:
    units = f.cascade(session)
    account = f.account(session, units["school"])
    admin = _institute_admin(session, units["national"])
    issued = key_service.issue_account_keys(session=session, account=account, actor_label="тест")

    # A base key: the new one is printed here, once.
    regenerated = runner.invoke(
        keys_cli.app, ["regenerate", str(issued.base.key_id), "--note", "Втрачено", "--as", admin, "--json"]
    )
    assert regenerated.exit_code == 0, regenerated.output
    new = _json(regenerated.output)["key"]
    assert new["token"].startswith("aikb_") and _json(regenerated.output)["replaces_id"] == issued.base.key_id

    done = runner.invoke(
        keys_cli.app, ["deactivate", str(new["key_id"]), "--note", "Запит школи", "--as", admin, "--json"]
    )
    assert done.exit_code == 0 and _json(done.output)["state"] == "deactivated"
    check = runner.invoke(keys_cli.app, ["check", new["token"], "--json"])
    assert _json(check.output)["reason"] == "deactivated"

    twice = runner.invoke(keys_cli.app, ["deactivate", str(new["key_id"]), "--note", "ще", "--as", admin])
    assert twice.exit_code == 1 and "уже деактивовано" in twice.output and "Traceback" not in twice.output
    missing = runner.invoke(keys_cli.app, ["issue", "--org", "99999999", "--as", admin, "--json"])
    assert missing.exit_code == 1 and _json(missing.output)["error"] == "not_found"


def test_audit_verify_and_tail(session: Session) -> None:
    units = f.cascade(session)
    account = f.account(session, units["school"])
    key_service.issue_account_keys(session=session, account=account, actor_label="тест")

    ok = runner.invoke(audit_cli.app, ["verify", "--json"])
    assert ok.exit_code == 0, ok.output
    report = _json(ok.output)
    assert report["ok"] is True and report["entries"] >= 1 and report["first_broken"] is None

    tail = runner.invoke(audit_cli.app, ["tail", "-n", "1", "--json"])
    assert _json(tail.output)[-1]["action"] == "access_key.issued"

    session.execute(text("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_append_only"))
    last_id = _json(tail.output)[-1]["id"]
    session.execute(text("UPDATE audit_entry SET actor_label = 'підміна' WHERE id = :id"), {"id": last_id})
    broken = runner.invoke(audit_cli.app, ["verify", "--json"])
    assert broken.exit_code == 1
    assert _json(broken.output)["first_broken"]["id"] == last_id
    assert _json(broken.output)["first_broken"]["reason"] == "hash_mismatch"
    human = runner.invoke(audit_cli.app, ["verify"])
    assert f"№{last_id}" in human.output
