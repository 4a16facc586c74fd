"""`aikom org link-branches`, `branch-queue` and `link-branch`, and the linking run right after an ЄДЕБО
import, as a person or a script sees them: JSON, Ukrainian text, exit codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from aikom.cli import imports as imports_cli
from aikom.cli import org as org_cli
from aikom.cli.main import app
from aikom.models import Account, OrgUnit, Person, PersonRole
from tests import factories as f
from tests.imports.helpers import CODIFIER, COMPARISON, FIXTURES

runner = CliRunner()
BRANCHES = FIXTURES / "branches.csv"


@pytest.fixture
def imported(session: Session, monkeypatch: pytest.MonkeyPatch) -> Session:
    """The commands' unit of work is the rolled-back test session; the branch excerpt imported by the CLI."""

    @contextmanager
    def unit_of_work() -> Iterator[Session]:
        yield session
        session.flush()

    monkeypatch.setattr(imports_cli, "unit_of_work", unit_of_work)
    monkeypatch.setattr(org_cli, "unit_of_work", unit_of_work)
    place = ["--katottg", str(CODIFIER), "--koatuu-map", str(COMPARISON)]
    assert _invoke("import", "katottg", str(CODIFIER), "--json").exit_code == 0
    result = _invoke("import", "schools", str(BRANCHES), *place, "--json")
    assert result.exit_code == 0, result.output
    assert _json(result)["branch_links"] == {
        "linked": 1,
        "queued": 1,
        "no_candidate": 2,
        "confirmed": 0,
        "branches": 4,
        "auto_linked_share": 0.25,
    }
    return session


def _invoke(*args: str) -> Result:
    return runner.invoke(app, list(args))


def _json(result: Result) -> Any:
    return json.loads(result.stdout)


def _unit(session: Session, edebo_id: str) -> OrgUnit:
    return session.scalars(select(OrgUnit).where(OrgUnit.edebo_id == edebo_id)).one()


def _person(session: Session, unit_id: int, role: PersonRole) -> Person:
    unit = session.get_one(OrgUnit, unit_id)
    account = session.scalars(select(Account).where(Account.org_unit_id == unit.id)).first()
    return f.person(session, account or f.account(session, unit), role=role)


def test_link_branches_prints_the_counts_and_changes_nothing_decided(imported: Session) -> None:
    result = _invoke("org", "link-branches", "--json")
    assert result.exit_code == 0
    assert _json(result)["ok"] is True
    assert (_json(result)["linked"], _json(result)["queued"], _json(result)["no_candidate"]) == (1, 1, 2)
    text = _invoke("org", "link-branches")
    assert "прив’язано автоматично — 1 (25%), у черзі ОУО — 1, без кандидата — 2" in text.stdout


def test_the_managing_admin_sees_the_queue_and_confirms_a_candidate(imported: Session) -> None:
    branch, gymnasium = _unit(imported, "900003"), _unit(imported, "900002")
    admin = _person(imported, branch.parent_id or 0, PersonRole.HROMADA_ADMIN)

    queue = _json(_invoke("org", "branch-queue", "--as", str(admin.id), "--json"))
    assert queue["total"] == 1 and queue["no_candidate"] == 1
    (row,) = queue["rows"]
    assert row["branch_id"] == branch.id and gymnasium.id in [c["hub_id"] for c in row["candidates"]]
    text = _invoke("org", "branch-queue", "--as", str(admin.id)).stdout
    assert "Філій у черзі: 1" in text and "Петрівська гімназія" in text

    result = _invoke("org", "link-branch", "edebo:900003", "edebo:900002", "--as", admin.email, "--json")
    assert result.exit_code == 0, result.output
    assert _json(result)["outcome"] == "confirmed" and _json(result)["hub_id"] == gymnasium.id
    imported.refresh(branch)
    assert branch.parent_id == gymnasium.id
    assert "Немає філій" in _invoke("org", "branch-queue", "--as", str(admin.id)).stdout


def test_link_branch_refusals_are_ukrainian_with_a_reason_code(imported: Session) -> None:
    elsewhere = _unit(imported, "900005")
    oblast_admin = _person(imported, elsewhere.oblast_id or 0, PersonRole.OBLAST_ADMIN)
    result = _invoke(
        "org", "link-branch", "edebo:900005", "edebo:145907", "--as", str(oblast_admin.id), "--json"
    )
    assert result.exit_code == 1
    assert _json(result)["error"] == "hub_in_another_oblast" and "іншій області" in _json(result)["message"]

    director = _person(imported, _unit(imported, "146399").id, PersonRole.DIRECTOR)
    result = _invoke("org", "link-branch", "edebo:900003", "edebo:146399", "--as", str(director.id))
    assert result.exit_code == 1 and "адміністратори ОУО" in result.stderr
    assert "Traceback" not in result.output
    result = _invoke("org", "branch-queue", "--as", str(director.id), "--json")
    assert result.exit_code == 1 and _json(result)["error"] == "may_not_link_branches"
