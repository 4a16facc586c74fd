"""Cascade provisioning and deputies end to end: the CLI, a real Prefect server and runner, the base key
emailed through a real SMTP sink to the unit's official address, the first КЕП sign-in that needs it, the
API key shown once, and a director's deputy activated by their own sign-in."""

from __future__ import annotations

import json
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from aikom.db import session_factory, unit_of_work
from aikom.mail.delivery import deliver_pending_sync
from aikom.mail.sink import read_mailbox, start_sink
from aikom.models import (
    AccessKey,
    Account,
    AccountState,
    EmailMessage,
    KeyDelivery,
    KeyKind,
    Person,
    PersonRole,
    PersonState,
    Process,
)
from aikom.services.approvals import FIRST_SIGNIN_STEP
from aikom.settings import Settings
from tests import factories
from tests.flows.conftest import CliCall, wait_for_process, wait_for_step
from tests.signing import SigningPki, sign

BASE_KEY = re.compile(r"aikb_[a-z2-7]+_[a-z2-7]+_[a-z2-7]+")


@dataclass
class Hromada:
    """A committed hromada with its admin, and a school it manages that has no account yet."""

    admin: int
    school_id: int
    school_edrpou: str
    official_email: str


def _hromada(database_url: str) -> Hromada:
    with unit_of_work(database_url) as s:
        units = factories.cascade(s, with_edrpou=True)
        school = units["school"]
        assert school.edrpou is not None
        school.official_email = f"school-{school.edrpou}@osvita.example.org"
        admin = factories.person(
            s,
            factories.account(s, units["hromada"]),
            role=PersonRole.HROMADA_ADMIN,
            rnokpp=factories.rnokpp(),
        )
        return Hromada(admin.id, school.id, school.edrpou, school.official_email)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _deliver(database_url: str, mailbox: Path) -> None:
    port = _free_port()
    sink = start_sink(mailbox, port=port)
    try:
        mail_settings = Settings(database_url=database_url, smtp_port=port)
        while deliver_pending_sync(mail_settings, session_factory(database_url)).sent:
            pass
    finally:
        sink.stop()


def _signin(
    cli: CliCall,
    signing_pki: SigningPki,
    tmp_path: Path,
    *,
    name: str,
    edrpou: str,
    rnokpp: str,
    base_key: str | None,
) -> tuple[int, dict[str, object]]:
    challenge_file = tmp_path / "challenge.txt"
    code, challenge = cli("signin", "challenge", "--out", str(challenge_file))
    assert code == 0, challenge
    holder = signing_pki.issue(name=name, edrpou=edrpou, rnokpp=rnokpp)
    signature = tmp_path / "challenge.p7s"
    signature.write_bytes(sign(holder, challenge_file.read_bytes()))
    extra = ["--base-key", base_key] if base_key is not None else []
    return cli("signin", "complete", "--nonce", challenge["nonce"], "--signature", str(signature), *extra)


def _params(tmp_path: Path, data: dict[str, object]) -> str:
    path = tmp_path / "params.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return str(path)


def test_a_hromada_opens_a_school_account_and_its_director_signs_in_with_the_base_key(
    cli: CliCall, signing_pki: SigningPki, database_url: str, api_url: str, tmp_path: Path
) -> None:
    world = _hromada(database_url)
    rnokpp = factories.rnokpp()
    name = "Коваленко Ірина Петрівна"

    # 1. The hromada's admin starts it from the CLI with a params file.
    code, started = cli(
        "process", "start", "cascade-provisioning", "--as", str(world.admin), "--params",
        _params(tmp_path, {
            "unit": world.school_edrpou,
            "person": {
                "full_name": name, "rnokpp": rnokpp, "email": "koval@example.org", "position": "Директор",
            },
        }),
    )  # fmt: skip
    assert code == 0, started
    process_id, run_id = int(started["process_id"]), str(started["flow_run_id"])

    # 2. Account PENDING with a base and an API key, the director's card PENDING, the base key queued
    #    for the official address — encrypted, never among the message's variables.
    wait_for_step(run_id, FIRST_SIGNIN_STEP, api_url)
    with unit_of_work(database_url) as s:
        account = s.scalars(select(Account).where(Account.org_unit_id == world.school_id)).one()
        assert account.state == AccountState.PENDING
        kinds = set(s.scalars(select(AccessKey.kind).where(AccessKey.account_id == account.id)))
        assert kinds == {KeyKind.BASE, KeyKind.API}
        director = s.scalars(select(Person).where(Person.org_unit_id == world.school_id)).one()
        assert (director.role, director.state, director.title) == (
            PersonRole.DIRECTOR,
            PersonState.PENDING,
            "Директор",
        )
        message = s.scalars(select(EmailMessage).where(EmailMessage.template == "base_key_issued")).all()
        mine = [m for m in message if m.to_address == world.official_email]
        assert len(mine) == 1 and mine[0].secret_ciphertext is not None
        assert "aikb_" not in json.dumps(mine[0].variables)
        delivery = s.scalars(select(KeyDelivery).where(KeyDelivery.account_id == account.id)).one()
        assert delivery.ciphertext is not None and delivery.shown_at is None
        director_id = director.id

    # 3. The message leaves over SMTP: the key is in the email, and only there; the outbox forgets it.
    mailbox = tmp_path / "mailbox"
    _deliver(database_url, mailbox)
    received = [m for m in read_mailbox(mailbox) if m.to == world.official_email]
    assert len(received) == 1
    found = BASE_KEY.search(received[0].text)
    assert found is not None
    base_key = found.group(0)
    with unit_of_work(database_url) as s:
        assert s.get_one(EmailMessage, mine[0].id).secret_ciphertext is None
    code, checked = cli("keys", "check", base_key)
    assert code == 0 and checked["valid"] is True and checked["kind"] == "base", checked
    assert any(m.to == "koval@example.org" for m in read_mailbox(mailbox))  # the invitation

    # 4. The first sign-in asks for the base key: refused without it, or with a wrong one.
    code, refused = _signin(
        cli, signing_pki, tmp_path, name=name, edrpou=world.school_edrpou, rnokpp=rnokpp, base_key=None
    )
    assert code == 1 and refused["reason"] == "base_key_required", refused
    wrong = base_key[:-3] + ("aaa" if not base_key.endswith("aaa") else "bbb")
    code, refused = _signin(
        cli, signing_pki, tmp_path, name=name, edrpou=world.school_edrpou, rnokpp=rnokpp, base_key=wrong
    )
    assert code == 1 and refused["reason"] == "base_key_wrong", refused

    # 5. With it: the card and the account ACTIVE, the API key shown once, the process completed.
    code, signed_in = _signin(
        cli, signing_pki, tmp_path, name=name, edrpou=world.school_edrpou, rnokpp=rnokpp, base_key=base_key
    )
    assert code == 0, signed_in
    assert signed_in["person_id"] == director_id and signed_in["activated"] is True
    api_key = signed_in["api_key"]
    assert isinstance(api_key, dict) and str(api_key["token"]).startswith("aika_")
    code, checked = cli("keys", "check", str(api_key["token"]))
    assert code == 0 and checked["valid"] is True and checked["kind"] == "api"
    view = wait_for_process(database_url, process_id)
    assert view.state == "completed", view.outcome
    with unit_of_work(database_url) as s:
        assert s.get_one(Account, account.id).state == AccountState.ACTIVE
        assert s.get_one(Person, director_id).state == PersonState.ACTIVE
        delivery = s.scalars(select(KeyDelivery).where(KeyDelivery.account_id == account.id)).one()
        assert delivery.ciphertext is None and delivery.shown_to_id == director_id
        outcome = s.scalars(
            select(EmailMessage).where(EmailMessage.idempotency_key == f"process-{process_id}-outcome")
        ).one()
        assert outcome.to_address == s.get_one(Person, world.admin).email

    # 6. The next sign-in needs no base key and shows no key again.
    code, again = _signin(
        cli, signing_pki, tmp_path, name=name, edrpou=world.school_edrpou, rnokpp=rnokpp, base_key=None
    )
    assert code == 0 and again["api_key"] is None, again


def test_a_director_appoints_a_deputy_who_signs_in(
    cli: CliCall, signing_pki: SigningPki, database_url: str, api_url: str, tmp_path: Path
) -> None:
    with unit_of_work(database_url) as s:
        units = factories.cascade(s, with_edrpou=True)
        school_account = factories.account(s, units["school"])
        director = factories.person(s, school_account, role=PersonRole.DIRECTOR, rnokpp=factories.rnokpp())
        director_id, edrpou = director.id, units["school"].edrpou
    assert edrpou is not None
    rnokpp = factories.rnokpp()
    name = "Шевчук Олег Іванович"
    code, started = cli(
        "process", "start", "deputy", "--as", str(director_id), "--params",
        _params(tmp_path, {"person": {
            "full_name": name, "rnokpp": rnokpp, "email": "shevchuk@example.org",
            "position": "Заступник з НВР",
        }}),
    )  # fmt: skip
    assert code == 0, started
    process_id, run_id = int(started["process_id"]), str(started["flow_run_id"])
    wait_for_step(run_id, FIRST_SIGNIN_STEP, api_url)
    with unit_of_work(database_url) as s:
        deputy_id = int(s.get_one(Process, process_id).parameters["person_id"])
        deputy = s.get_one(Person, deputy_id)
        assert (deputy.role, deputy.state, deputy.appointed_by_id) == (
            PersonRole.DEPUTY,
            PersonState.PENDING,
            director_id,
        )

    # The deputy may not create a deputy (a director does not pass powers on) — once they are active.
    code, signed_in = _signin(
        cli, signing_pki, tmp_path, name=name, edrpou=edrpou, rnokpp=rnokpp, base_key=None
    )
    assert code == 0 and signed_in["activated"] is True, signed_in
    view = wait_for_process(database_url, process_id)
    assert view.state == "completed", view.outcome
    code, refused = cli(
        "process", "start", "deputy", "--as", str(deputy_id), "--params",
        _params(tmp_path, {"person": {
            "full_name": "Інший Заступник", "rnokpp": factories.rnokpp(), "email": "x@example.org",
            "position": "—",
        }}),
    )  # fmt: skip
    assert code == 1 and refused["error"] == "role_not_allowed", refused
    assert "заступник не може створити заступника" in refused["message"]
