"""`aikom keys …`: check a key; issue, deactivate and regenerate keys — the last three directly only as an
institute admin (`--as PERSON`, with a reason); everybody else asks through the `key-regeneration`
process (`aikom process start key-regeneration`) or the support desk."""

from __future__ import annotations

import sys
from typing import Any

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from aikom.cli.output import emit, fail
from aikom.core.errors import DomainError, NotFound, ValidationFailed
from aikom.db import unit_of_work
from aikom.models import OrgStatus, OrgUnit
from aikom.services import key_regeneration
from aikom.services import keys as key_service
from aikom.services.approvals import find_person

app = typer.Typer(help="Ключі доступу: видача, перевірка, деактивація, перегенерація", no_args_is_help=True)

ONE_TIME_WARNING = (
    "Увага: ключ показано лише один раз і ніде не збережено у відкритому вигляді. "
    "Передайте його захищеним каналом; повторно побачити його неможливо."
)
JSON_OPTION = typer.Option(False, "--json", help="Відповідь у JSON")
AS_OPTION = typer.Option(
    ..., "--as", help="Хто виконує дію: номер картки або email технічного адміністратора ІОА"
)


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


@app.command(
    "issue", help="Видати базовий ключ і ключ API обліковому запису організації (лише адміністратор ІОА)"
)
def issue(
    org: str = typer.Option(..., "--org", help="ЄДРПОУ організації або її номер (id:N)"),
    as_person: str = AS_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Issue the base key and the API key of an org unit's account (the account is created if missing)."""
    try:
        with unit_of_work() as session:
            person = find_person(session=session, ref=as_person)
            unit = _find_org_unit(session, org)
            issued = key_regeneration.issue_directly(session=session, person=person, org_unit_id=unit.id)
            unit_id, unit_name = unit.id, unit.name
    except DomainError as exc:
        fail(exc.message_uk, exc.code, json_output)
        return
    payload = {
        "ok": True,
        "account_id": issued.account_id,
        "org_unit": {"id": unit_id, "name": unit_name},
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


@app.command("deactivate", help="Деактивувати ключ (лише адміністратор ІОА, з причиною)")
def deactivate(
    key_id: int = typer.Argument(..., help="Номер ключа"),
    note: str | None = typer.Option(None, "--note", help="Причина деактивації"),
    as_person: str = AS_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Deactivate a key for good."""
    try:
        with unit_of_work() as session:
            person = find_person(session=session, ref=as_person)
            key = key_regeneration.deactivate_directly(
                session=session, person=person, key_id=key_id, note=note or ""
            )
            payload = {"ok": True, "key_id": key.id, "kind": key.kind.value, "state": key.state.value}
    except DomainError as exc:
        fail(exc.message_uk, exc.code, json_output)
        return
    emit(payload, json_output, f"Ключ №{key_id} деактивовано.")


@app.command(
    "regenerate", help="Згенерувати новий ключ замість наявного (лише адміністратор ІОА, з причиною)"
)
def regenerate(
    key_id: int = typer.Argument(..., help="Номер ключа, який треба замінити"),
    note: str | None = typer.Option(None, "--note", help="Причина перегенерації"),
    as_person: str = AS_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Replace a key with a new one (the old one is deactivated). A new API key is kept for ONE showing to
    the account's director or admin (its grants move to it); a new base key is printed once here."""
    try:
        with unit_of_work() as session:
            person = find_person(session=session, ref=as_person)
            done = key_regeneration.regenerate_directly(
                session=session, person=person, key_id=key_id, note=note or ""
            )
    except DomainError as exc:
        fail(exc.message_uk, exc.code, json_output)
        return
    key: dict[str, Any] = {"key_id": done.new_key_id, "kind": done.kind.value, "public_id": done.public_id}
    payload: dict[str, Any] = {"ok": True, "replaces_id": key_id, "key": key}
    if done.token is None:
        payload["moved_grant_ids"] = done.moved_grant_ids
        payload["message"] = f"Новий ключ API №{done.new_key_id}. {key_regeneration.SHOWN_ONCE_UK}"
        emit(payload, json_output, payload["message"])
        return
    key["token"] = done.token
    payload["warning"] = ONE_TIME_WARNING
    if not json_output:
        typer.echo(ONE_TIME_WARNING, err=True)
    emit(payload, json_output, f"Новий ключ №{done.new_key_id} замість №{key_id}: {done.token}")
