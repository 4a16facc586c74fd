"""`aikom ois grant|grants|revoke`: a school director's ОІС access from the command line — the same
processes as the page «Доступ ОІС» (`ois-access`, `ois-revocation`), with the same role checks."""

from __future__ import annotations

from datetime import date
from typing import Any

import typer
from pydantic import ValidationError

from aikom.cli.ois import app
from aikom.cli.output import emit, fail
from aikom.core.errors import DomainError, ValidationFailed
from aikom.core.validation import validation_message_uk

AS_OPTION = typer.Option(..., "--as", help="Керівник закладу освіти: номер картки або email")
JSON_OPTION = typer.Option(False, "--json", help="Відповідь у JSON")


def _date(value: str | None) -> date | None:
    if value is None or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationFailed(
            "contract_date", f"Дата договору: «{value}» — не дата; вкажіть у форматі РРРР-ММ-ДД."
        ) from None


def _start(process_type: str, params: dict[str, Any], as_person: str, json_output: bool) -> None:
    from aikom import commands
    from aikom.db import unit_of_work
    from aikom.services import approvals

    try:
        with unit_of_work() as session:
            person_id = approvals.find_person(session=session, ref=as_person).id
        outcome = commands.start_process(
            process_type=process_type, params=params, actor=commands.actor_of(person_id)
        )
    except DomainError as error:
        fail(error.message_uk, error.code, json_output)
        return
    except ValidationError as error:
        fail(validation_message_uk(error), "validation_failed", json_output)
        return
    payload = outcome.model_dump()
    payload["message"] = payload.pop("message_uk")
    emit(payload, json_output, outcome.message_uk)


@app.command("grant", help="Надати підключеній ОІС доступ до даних закладу (керівник закладу)")
def grant(
    ois: int = typer.Option(..., "--ois", help="Номер ОІС у переліку підключених"),
    data_sets: list[str] = typer.Option([], "--data-set", help="Код набору даних з каталогу (можна кілька)"),
    contract_number: str | None = typer.Option(None, "--contract-number", help="Номер договору з оператором"),
    contract_date: str | None = typer.Option(None, "--contract-date", help="Дата договору (РРРР-ММ-ДД)"),
    as_person: str = AS_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Start `ois-access`: the grant is in force once recorded."""
    try:
        when = _date(contract_date)
    except DomainError as error:
        fail(error.message_uk, error.code, json_output)
        return
    params = {"ois": ois, "data_sets": data_sets, "contract_number": contract_number, "contract_date": when}
    _start("ois-access", params, as_person, json_output)


@app.command("revoke", help="Замовити відкликання доступу ОІС (керівник закладу; погоджує ІОА)")
def revoke(
    grant_id: int = typer.Argument(..., help="Номер доступу"),
    reason: str | None = typer.Option(None, "--reason", help="Причина відкликання"),
    as_person: str = AS_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Start `ois-revocation`: an institute admin approves; then the key is replaced."""
    _start("ois-revocation", {"grant": grant_id, "reason": reason or ""}, as_person, json_output)


@app.command("grants", help="Доступи ОІС закладу та стан його ключа API (керівник закладу)")
def grants(as_person: str = AS_OPTION, json_output: bool = JSON_OPTION) -> None:
    """The director's school: its grants with their states and its API key's state (never a secret)."""
    from aikom.db import unit_of_work
    from aikom.services import approvals, ois_access

    try:
        with unit_of_work() as session:
            person = approvals.find_person(session=session, ref=as_person)
            school = ois_access.school_of_director(session, person)
            listed = ois_access.grants_of_school(session=session, school_id=school.unit.id)
            key = ois_access.school_key_state(session=session, account_id=school.account.id)
            school_name = school.unit.name
    except DomainError as error:
        fail(error.message_uk, error.code, json_output)
        return
    payload = {
        "school": school_name,
        "api_key": {"key_id": key.key_id, "public_prefix": key.public_prefix, "state": key.state},
        "grants": [
            {
                "id": g.id,
                "ois_id": g.ois_id,
                "ois": g.ois_name,
                "state": g.state.value,
                "data_sets": g.data_sets,
                "capability": g.capability.value if g.capability else None,
                "contract_number": g.contract_number,
                "contract_date": g.contract_date,
                "key": g.key_public_prefix,
                "revoked_at": g.revoked_at,
                "revoke_reason": g.revoke_reason,
                "revocation_process_id": g.revocation_process_id,
            }
            for g in listed
        ],
    }
    lines = [f"{school_name}: ключ API {key.public_prefix or '—'} ({key.state or 'немає'})"]
    lines += [
        f"  №{g.id} {g.ois_name}: {ois_access.GRANT_STATE_UK[g.state]}; {', '.join(g.data_sets)}"
        for g in listed
    ]
    emit(payload, json_output, "\n".join(lines))
