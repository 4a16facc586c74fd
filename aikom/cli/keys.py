"""`aikom keys …`: issue, check, deactivate and regenerate access keys."""

from __future__ import annotations

import getpass
import sys
from typing import Any

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from aikom.cli.output import emit, fail
from aikom.core.errors import DomainError, NotFound, ValidationFailed
from aikom.db import unit_of_work
from aikom.models import OrgStatus, OrgUnit
from aikom.services import keys as key_service

app = typer.Typer(help="Ключі доступу: видача, перевірка, деактивація, перегенерація", no_args_is_help=True)

ONE_TIME_WARNING = (
    "Увага: ключ показано лише один раз і ніде не збережено у відкритому вигляді. "
    "Передайте його захищеним каналом; повторно побачити його неможливо."
)
JSON_OPTION = typer.Option(False, "--json", help="Відповідь у JSON")
ACTOR_OPTION = typer.Option(None, "--actor", help="Хто виконує дію (для журналу аудиту)")


def _actor(actor: str | None) -> str:
    return actor or f"cli:{getpass.getuser()}"


def _find_org_unit(session: Session, code: str) -> OrgUnit:
    """An org unit by ЄДРПОУ (8 digits), or by id (`id:N` or any other number)."""
    text = code.strip()
    if text.isdigit() and len(text) == 8:
        unit = session.scalars(
            select(OrgUnit).where(OrgUnit.edrpou == text, OrgUnit.status == OrgStatus.ACTIVE)
        ).first()
        if unit is None:
            raise NotFound(f"Діючу організацію з ЄДРПОУ {text} не знайдено.", edrpou=text)
        return unit
    raw_id = text.removeprefix("id:")
    if not raw_id.isdigit():
        raise ValidationFailed("org", "Вкажіть ЄДРПОУ (8 цифр) або номер організації (id:N).")
    unit = session.get(OrgUnit, int(raw_id))
    if unit is None:
        raise NotFound(f"Організацію №{raw_id} не знайдено.", org_unit_id=int(raw_id))
    return unit


def _issued_key_dict(key: key_service.IssuedKey) -> dict[str, Any]:
    return {
        "key_id": key.key_id,
        "kind": key.kind.value,
        "public_id": key.public_id,
        "scopes": list(key.scopes),
        "token": key.token,
    }


@app.command("check", help="Перевірити ключ: чинний чи ні й чому")
def check(
    key: str = typer.Argument(..., help="Ключ; «-» — прочитати зі стандартного входу"),
    json_output: bool = JSON_OPTION,
) -> None:
    """Check a key: valid, or why not (exit code 0 when valid, 1 otherwise)."""
    token = sys.stdin.readline() if key == "-" else key
    # A typo is reported without even connecting to the database.
    result = key_service.precheck_token(token)
    if result is None:
        try:
            with unit_of_work() as session:
                result = key_service.check_key(session=session, token=token)
        except DomainError as exc:
            fail(exc.message_uk, exc.code, json_output)
            return
    if result.valid and result.org_unit is not None:
        human = (
            f"Ключ дійсний: {result.org_unit.name} (№{result.org_unit.id}, {result.org_unit.level.value}); "
            f"дозволи: {', '.join(result.scopes)}"
        )
    else:
        human = f"Ключ недійсний: {result.message_uk}"
    emit(result.as_dict(), json_output, human)
    raise typer.Exit(0 if result.valid else 1)


@app.command("issue", help="Видати базовий ключ і ключ API обліковому запису організації")
def issue(
    org: str = typer.Option(..., "--org", help="ЄДРПОУ організації або її номер (id:N)"),
    actor: str | None = ACTOR_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Issue the base key and the API key of an org unit's account (the account is created if missing)."""
    try:
        with unit_of_work() as session:
            unit = _find_org_unit(session, org)
            issued = key_service.issue_keys_for_org_unit(
                session=session, org_unit_id=unit.id, actor_label=_actor(actor)
            )
            unit_name = unit.name
    except DomainError as exc:
        fail(exc.message_uk, exc.code, json_output)
        return
    payload = {
        "ok": True,
        "account_id": issued.account_id,
        "org_unit": {"id": unit.id, "name": unit_name},
        "warning": ONE_TIME_WARNING,
        "keys": [_issued_key_dict(issued.base), _issued_key_dict(issued.api)],
    }
    if not json_output:
        typer.echo(ONE_TIME_WARNING, err=True)
    emit(
        payload,
        json_output,
        f"Ключі облікового запису №{issued.account_id} ({unit_name}):\n"
        f"  базовий ключ доступу (№{issued.base.key_id}): {issued.base.token}\n"
        f"  ключ API (№{issued.api.key_id}): {issued.api.token}",
    )


@app.command("deactivate", help="Деактивувати ключ")
def deactivate(
    key_id: int = typer.Argument(..., help="Номер ключа"),
    note: str = typer.Option(..., "--note", help="Причина деактивації"),
    actor: str | None = ACTOR_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Deactivate a key for good."""
    try:
        with unit_of_work() as session:
            key = key_service.deactivate_key(
                session=session, key_id=key_id, actor_label=_actor(actor), note=note
            )
            payload = {"ok": True, "key_id": key.id, "kind": key.kind.value, "state": key.state.value}
    except DomainError as exc:
        fail(exc.message_uk, exc.code, json_output)
        return
    emit(payload, json_output, f"Ключ №{key_id} деактивовано.")


@app.command("regenerate", help="Згенерувати новий ключ замість наявного")
def regenerate(
    key_id: int = typer.Argument(..., help="Номер ключа, який треба замінити"),
    note: str | None = typer.Option(None, "--note", help="Причина перегенерації"),
    actor: str | None = ACTOR_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Replace a key with a new one (the old one is deactivated); prints the new key once."""
    try:
        with unit_of_work() as session:
            new = key_service.regenerate_key(
                session=session, key_id=key_id, actor_label=_actor(actor), note=note
            )
    except DomainError as exc:
        fail(exc.message_uk, exc.code, json_output)
        return
    payload = {"ok": True, "replaces_id": key_id, "warning": ONE_TIME_WARNING, "key": _issued_key_dict(new)}
    if not json_output:
        typer.echo(ONE_TIME_WARNING, err=True)
    emit(payload, json_output, f"Новий ключ №{new.key_id} замість №{key_id}: {new.token}")
