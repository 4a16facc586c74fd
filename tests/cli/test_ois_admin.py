"""`aikom ois list --public|--as`, and an institute admin's КЕП-signed decisions from the command line:
document → signature → suspend / reinstate / widen / disconnect."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import sessionmaker
from typer.testing import CliRunner

from aikom.core.calendar import KYIV
from aikom.db import unit_of_work
from aikom.mail.delivery import deliver_pending_sync
from aikom.mail.sink import read_mailbox, start_sink
from aikom.models import (
    EmailMessage,
    EmailState,
    GrantState,
    Ois,
    OisGrant,
    OisPhase,
    OisState,
    OrgLevel,
    Person,
    PersonRole,
)
from aikom.settings import Settings
from tests import factories as f
from tests import ois_factories as of
from tests.cli.conftest import Aikom
from tests.signing import SigningPki, sign


@dataclass
class World:
    admin: int
    reviewer: int
    manager: int
    director: int
    connected: int
    connected_name: str
    suspended_name: str
    grant: int


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    """Committed: institute staff who can sign, a connected ОІС with a school's grant, a suspended one."""
    with unit_of_work(database_url) as s:
        units = f.cascade(s, with_edrpou=True)
        units["national"].edrpou = f.edrpou()
        national = f.account(s, units["national"])
        admin = f.person(s, national, role=PersonRole.INSTITUTE_ADMIN, rnokpp=f.rnokpp())
        reviewer = f.person(s, national, role=PersonRole.INSTITUTE_ADMIN, rnokpp=f.rnokpp())
        manager = f.person(s, national, role=PersonRole.MANAGER)
        school = f.org_unit(s, level=OrgLevel.SCHOOL, parent=units["hromada"], edrpou=f.edrpou())
        account = f.account(s, school)
        director = f.person(s, account, role=PersonRole.DIRECTOR)
        connected = of.connected_ois(
            s, reviewer=reviewer, contact_email="hidden.contact@op.example.ua",
            contact_name="Прихована Особа", contact_phone="+380671112233",
        )  # fmt: skip
        suspended = of.connected_ois(s, reviewer=reviewer, state=OisState.SUSPENDED)
        of.review_of(s, connected, reviewer=reviewer)
        grant = of.grant(s, connected, school, of.api_key(s, account), granted_by=director)
        made = World(
            admin=admin.id, reviewer=reviewer.id, manager=manager.id, director=director.id,
            connected=connected.id, connected_name=connected.system_name,
            suspended_name=suspended.system_name, grant=grant.id,
        )  # fmt: skip
    yield made
    with unit_of_work(database_url) as s:  # out of other tests' public lists
        s.execute(update(Ois).where(Ois.id == made.connected).values(state=OisState.DISCONNECTED))


def _signed_files(aikom: Aikom, signing: SigningPki, tmp: Path, signer_id: int, *args: str) -> list[str]:
    """`aikom ois decision-document …` written to a file and signed with the signer's own КЕП."""
    document = tmp / "decision.json"
    code, out = aikom("ois", "decision-document", *args, "--as", str(signer_id), "--out", str(document))
    assert code == 0, out
    with unit_of_work() as s:
        holder = signing.certificate_for(s, s.get_one(Person, signer_id))
    signature = tmp / "decision.p7s"
    signature.write_bytes(sign(holder, document.read_bytes()))
    return ["--document", str(document), "--signature", str(signature)]


def test_the_public_list_has_exactly_the_published_fields(aikom: Aikom, world: World) -> None:
    code, out = aikom("ois", "list", "--public")
    assert code == 0 and out["ok"]
    names = [o["name"] for o in out["ois"]]
    assert world.connected_name in names and world.suspended_name not in names
    [mine] = [o for o in out["ois"] if o["name"] == world.connected_name]
    assert set(mine) == {"name", "company", "edrpou", "site", "capability", "since"}
    assert mine["capability"] == "receive" and mine["site"] == "https://journal.example.ua"
    printed = str(out)
    for leak in ("hidden.contact@op.example.ua", "Прихована Особа", "+380671112233", "client_id"):
        assert leak not in printed
    # As people read it (no --json): one line per system, in Ukrainian, nothing about contacts either.
    from aikom.cli.main import app

    human = CliRunner().invoke(app, ["ois", "list", "--public"])
    assert human.exit_code == 0 and "Підключених ОІС:" in human.stdout
    assert (
        f"{world.connected_name} — " in human.stdout
        and "отримання даних; підключена 01.03.2024" in human.stdout
    )
    assert "hidden.contact@op.example.ua" not in human.stdout


def test_the_staff_list_has_everything_and_only_for_staff(aikom: Aikom, world: World) -> None:
    code, out = aikom("ois", "list", "--as", str(world.manager), "--state", "connected")
    assert code == 0
    [mine] = [o for o in out["ois"] if o["id"] == world.connected]
    assert mine["contact_email"] == "hidden.contact@op.example.ua" and mine["grants"]["active"] == 1
    assert all(o["state"] == "connected" for o in out["ois"])
    assert mine["phases"][0]["capability"] == "receive" and mine["phases"][0]["status"] == "in_force"
    code, out = aikom("ois", "list", "--as", str(world.director))
    assert code == 1 and out["error"] == "role_not_allowed" and "керівників і аналітиків" in out["message"]
    code, out = aikom("ois", "list")
    assert code == 1 and "--public" in out["message"]
    code, out = aikom("ois", "list", "--as", str(world.admin), "--state", "sleeping")
    assert code == 1 and "Стан «sleeping» невідомий" in out["message"]


def test_signed_decisions_suspend_reinstate_widen_and_disconnect(
    aikom: Aikom, world: World, signing_pki: SigningPki, tmp_path: Path
) -> None:
    ois = str(world.connected)
    reason = "Перевірка інциденту"
    # Unsigned: refused, nothing changed.
    code, out = aikom("ois", "suspend", ois, "--as", str(world.admin), "--reason", reason)
    assert code == 1 and "підписують КЕП" in out["message"]
    signed = _signed_files(aikom, signing_pki, tmp_path, world.admin, "suspend", ois, "--reason", reason)
    code, out = aikom("ois", "suspend", ois, "--as", str(world.admin), "--reason", reason, *signed)
    assert code == 0 and out["state"] == "suspended", out
    code, out = aikom("ois", "list", "--public")
    assert world.connected_name not in [o["name"] for o in out["ois"]]

    signed = _signed_files(aikom, signing_pki, tmp_path, world.admin, "reinstate", ois, "--reason", "Усунуто")
    code, out = aikom("ois", "reinstate", ois, "--as", str(world.admin), "--reason", "Усунуто", *signed)
    assert code == 0 and out["state"] == "connected", out

    day = (datetime.now(UTC).astimezone(KYIV).date() + timedelta(days=10)).isoformat()
    # The reviewer of the extended round may not decide the widening (four-eyes).
    signed = _signed_files(aikom, signing_pki, tmp_path, world.reviewer, "widen", ois, "--effective", day)
    code, out = aikom("ois", "widen", ois, "--as", str(world.reviewer), "--effective", day, *signed)
    assert code == 1 and out["error"] == "ois_four_eyes"
    signed = _signed_files(aikom, signing_pki, tmp_path, world.admin, "widen", ois, "--effective", day)
    code, out = aikom("ois", "widen", ois, "--as", str(world.admin), "--effective", day, *signed)
    assert code == 0 and out["effective_from"].startswith(day), out
    code, out = aikom("ois", "list", "--public")
    [mine] = [o for o in out["ois"] if o["name"] == world.connected_name]
    assert mine["capability"] == "receive"  # not before its date
    # Cancelled before its date: the document names the planned phase's day by itself.
    code, out = aikom("ois", "cancel-widening", ois, "--as", str(world.admin), "--reason", "Не та дата")
    assert code == 1 and "підписують КЕП" in out["message"]
    args = ("cancel-widening", ois, "--reason", "Не та дата")
    signed = _signed_files(aikom, signing_pki, tmp_path, world.admin, *args)
    assert f'"effective_on":"{day}"' in Path(signed[1]).read_text()
    code, out = aikom("ois", *args[:2], "--as", str(world.admin), *args[2:], *signed)
    assert code == 0 and out["cancelled_effective_on"] == day, out
    code, out = aikom("ois", "cancel-widening", ois, "--as", str(world.admin), "--reason", "Ще раз")
    assert code == 1 and out["error"] == "ois_no_planned_widening", out
    with unit_of_work() as s:
        decided = (OisPhase.ois_id == world.connected, OisPhase.decision_id.is_not(None))
        assert not s.scalars(select(OisPhase).where(*decided)).all()

    reason = "Договір розірвано"
    signed = _signed_files(aikom, signing_pki, tmp_path, world.admin, "disconnect", ois, "--reason", reason)
    code, out = aikom("ois", "disconnect", ois, "--as", str(world.admin), "--reason", reason, *signed)
    assert code == 0 and out["revoked_grant_ids"] == [world.grant], out
    with unit_of_work() as s:
        grant = s.get_one(OisGrant, world.grant)
        assert grant.state == GrantState.REVOKED and grant.revoke_reason == f"ОІС відключено: {reason}"
        assert s.get_one(Ois, world.connected).state == OisState.DISCONNECTED
        told = s.scalar(
            select(func.count()).where(EmailMessage.idempotency_key.like(f"ois-{world.connected}-%"))
        )
        assert told == 5  # suspended, reinstated, phase, phase cancelled, disconnected


def test_the_operator_receives_the_letter_over_smtp(
    aikom: Aikom, world: World, signing_pki: SigningPki, tmp_path: Path, engine: Engine
) -> None:
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    with sessions.begin() as s:  # earlier tests' leftovers are not delivered here
        s.execute(
            update(EmailMessage)
            .where(EmailMessage.state == EmailState.PENDING)
            .values(state=EmailState.FAILED)
        )
    reason = "Порушення технічних вимог"
    signed = _signed_files(
        aikom, signing_pki, tmp_path, world.admin, "suspend", str(world.connected), "--reason", reason
    )
    code, out = aikom(
        "ois", "suspend", str(world.connected), "--as", str(world.admin), "--reason", reason, *signed
    )
    assert code == 0, out
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    sink = start_sink(tmp_path / "mailbox", port=port)
    try:
        report = deliver_pending_sync(Settings(smtp_port=port), sessions)
    finally:
        sink.stop()
    # The operator and the director of the one school whose active grant is affected (one letter each).
    assert report.sent == 2
    with unit_of_work() as s:
        director = s.get_one(Person, world.director)
        director_email, director_name = director.email, director.full_name
    received = {m.to: m for m in read_mailbox(tmp_path / "mailbox")}
    assert set(received) == {"hidden.contact@op.example.ua", director_email}
    message = received["hidden.contact@op.example.ua"]
    assert message.subject == f"АІКОМ: ОІС «{world.connected_name}» — роботу зупинено"
    assert "Шановна(ий) Прихована Особа!" in message.text and f"Причина: {reason}" in message.text
    school = received[director_email]
    assert school.subject == f"АІКОМ: ОІС «{world.connected_name}» — роботу зупинено"
    assert f"Шановна(ий) {director_name}!" in school.text and f"Причина: {reason}" in school.text
    assert (
        f"Доступ вашого закладу: №{world.grant}." in school.text
        and "Доступ вашого закладу збережено" in school.text
    )
    assert "hidden.contact@op.example.ua" not in school.text
