"""`aikom ois list|decision-document|widen|cancel-widening|suspend|reinstate|disconnect`: the public list of
connected ОІС, the staff's full list, and an institute admin's КЕП-signed decisions about a connected ОІС."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from aikom.cli.ois import app
from aikom.cli.output import emit, fail
from aikom.core.errors import DomainError, ValidationFailed
from aikom.core.ois_decisions import OisAction
from aikom.settings import get_settings

if TYPE_CHECKING:
    from aikom.services.approvals import SignedPayload

JSON_OPTION = typer.Option(False, "--json", help="Звіт у JSON")
OIS_ARGUMENT = typer.Argument(..., help="Номер ОІС")
DECIDER_OPTION = typer.Option(..., "--as", help="Технічний адміністратор ІОА: номер картки або email")
DOCUMENT_OPTION = typer.Option(
    "--document", help="Документ рішення (з `aikom ois decision-document`)", show_default=False
)
SIGNATURE_OPTION = typer.Option("--signature", help="Файл КЕП-підпису документа (.p7s)", show_default=False)
DEMO_SIGN_OPTION = typer.Option(
    False, "--demo-sign", help="Лише в демо-режимі: підписати ключем демонстраційної особи"
)
ACTIONS_UK = {"widen": OisAction.WIDEN, "cancel-widening": OisAction.CANCEL_WIDENING,
              "suspend": OisAction.SUSPEND, "reinstate": OisAction.REINSTATE,
              "disconnect": OisAction.DISCONNECT}  # fmt: skip


def _state_list(values: list[str] | None) -> list[Any]:
    from aikom.models import OisState

    states = []
    for value in values or []:
        try:
            states.append(OisState(value.strip()))
        except ValueError:
            allowed = ", ".join(s.value for s in OisState)
            raise ValidationFailed("state", f"Стан «{value}» невідомий; можливі: {allowed}.") from None
    return states


@app.command("list", help="Перелік ОІС: --public — опублікований перелік підключених; --as — повні відомості")
def list_ois(
    public: bool = typer.Option(False, "--public", help="Публічний перелік підключених ОІС (без входу)"),
    actor: str | None = typer.Option(
        None, "--as", help="Працівник ІОА (адміністратор, керівник/аналітик): номер картки або email"
    ),
    state: Annotated[
        list[str] | None, typer.Option("--state", help="Лише ОІС у цьому стані (можна кілька разів)")
    ] = None,
    json_output: bool = JSON_OPTION,
) -> None:
    """The public list (name, company, ЄДРПОУ, site, capability, since) or everything, for staff."""
    from aikom import commands
    from aikom.core.timefmt import format_kyiv
    from aikom.db import unit_of_work
    from aikom.services import approvals, ois_admin

    try:
        if public == (actor is not None):
            raise ValidationFailed(
                "as", "Вкажіть або --public (опублікований перелік), або --as ОСОБА (повні відомості)."
            )
        if public:
            if state:
                raise ValidationFailed("state", "Публічний перелік містить лише підключені ОІС: без --state.")
            with unit_of_work() as session:
                listed = ois_admin.public_list(session=session)
            rows = ois_admin.json_ready(listed)
            lines = [f"Підключених ОІС: {len(rows)}"] + [
                f"{o.name} — {o.company} (ЄДРПОУ {o.edrpou}), {o.site or 'сайт не вказано'}; "
                f"{ois_admin.CAPABILITY_UK[o.capability]}; підключена {format_kyiv(o.since)}"
                for o in listed
            ]
            emit({"ok": True, "ois": rows}, json_output, "\n".join(lines))
            return
        with unit_of_work() as session:
            person_id = approvals.find_person(session=session, ref=str(actor)).id
        acting = commands.actor_of(person_id)
        states = _state_list(state)
        with unit_of_work() as session:
            full = ois_admin.staff_list(session=session, actor=acting, states=states or None)
    except DomainError as error:
        fail(error.message_uk, error.code, json_output)
        return
    lines = [f"ОІС: {len(full)}"] + [
        f"№{o.id} {o.name} — {o.company} (ЄДРПОУ {o.edrpou}); {ois_admin.STATE_UK[o.state]}; "
        f"{ois_admin.CAPABILITY_UK[o.capability]}; доступів закладів: {o.grants.get('active', 0)} чинних, "
        f"{o.grants.get('revoked', 0)} відкликаних; контакт: {o.contact_name or '—'} <{o.contact_email}>"
        for o in full
    ]
    emit({"ok": True, "ois": ois_admin.json_ready(full)}, json_output, "\n".join(lines))


def _action(value: str) -> OisAction:
    try:
        return ACTIONS_UK[value.strip()]
    except KeyError:
        raise ValidationFailed("action", f"Дія «{value}»: можливі {', '.join(ACTIONS_UK)}.") from None


def _effective(action: OisAction, value: str | None) -> date | None:
    if action != OisAction.WIDEN:
        if value:
            raise ValidationFailed(
                "effective", "Дату початку (--effective) вказують лише для розширення (widen)."
            )
        return None
    if not value:
        raise ValidationFailed("effective", "Дата початку фази (--effective РРРР-ММ-ДД): обов'язкова.")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationFailed("effective", f"Дата початку фази «{value}»: очікується РРРР-ММ-ДД.") from None


def _day(action: OisAction, value: str | None, ois_id: int) -> date | None:
    """The date the decision document names: the one given for a widening, the planned phase's own for
    its cancellation."""
    if action != OisAction.CANCEL_WIDENING:
        return _effective(action, value)
    if value:
        raise ValidationFailed(
            "effective",
            "Для скасування розширення дату (--effective) не вказують: це дата запланованої фази.",
        )
    from aikom.db import unit_of_work
    from aikom.services import ois_admin

    with unit_of_work() as session:
        return ois_admin.planned_widening_day(session=session, ois_id=ois_id)


def _document(
    person_ref: str, ois_id: int, action: OisAction, reason: str | None, effective: date | None
) -> bytes:
    from aikom.db import unit_of_work
    from aikom.services import approvals, ois_admin

    with unit_of_work() as session:
        person = approvals.find_person(session=session, ref=person_ref)
        return ois_admin.decision_document(
            action=action, ois_id=ois_id, actor_id=person.id, reason=reason, effective_on=effective
        )


@app.command(
    "decision-document",
    help="Документ рішення щодо ОІС для підпису КЕП (widen|cancel-widening|suspend|reinstate|disconnect)",
)
def decision_document(
    action: str = typer.Argument(..., help="widen | cancel-widening | suspend | reinstate | disconnect"),
    ois_id: int = OIS_ARGUMENT,
    actor: str = DECIDER_OPTION,
    reason: str | None = typer.Option(None, "--reason", help="Причина (коментар для widen)"),
    effective: str | None = typer.Option(None, "--effective", help="widen: дата початку РРРР-ММ-ДД"),
    out: Path = typer.Option(..., "--out", help="Куди записати документ"),
    json_output: bool = JSON_OPTION,
) -> None:
    """Write the canonical decision document; sign it with `aikom kep sign`, then pass both back."""
    try:
        chosen = _action(action)
        content = _document(actor, ois_id, chosen, reason, _day(chosen, effective, ois_id))
    except DomainError as error:
        fail(error.message_uk, error.code, json_output)
        return
    out.write_bytes(content)
    emit(
        {"ok": True, "file": str(out), "document": content.decode("utf-8")},
        json_output,
        f"Документ рішення записано у {out}. Підпишіть його КЕП і передайте в `aikom ois {action.strip()} … "
        "--document … --signature …`.",
    )


def _signed(
    *,
    person_ref: str,
    ois_id: int,
    action: OisAction,
    reason: str | None,
    effective: date | None,
    document_file: Path | None,
    signature_file: Path | None,
    demo_sign: bool,
) -> SignedPayload:
    from aikom.services.approvals import SignedPayload

    if demo_sign:
        if document_file is not None or signature_file is not None:
            raise ValidationFailed("signature", "Вкажіть або --demo-sign, або --document із --signature.")
        from aikom.db import unit_of_work
        from aikom.demo import persons as demo
        from aikom.services import approvals

        settings = get_settings()
        if not settings.demo_mode:
            raise demo.DemoModeOff()
        with unit_of_work() as session:
            person_id = approvals.find_person(session=session, ref=person_ref).id
        content = _document(person_ref, ois_id, action, reason, effective)
        return SignedPayload(
            document=content,
            signature=demo.demo_sign(settings, demo.demo_key_of(settings, person_id), content),
        )
    if document_file is None or signature_file is None:
        raise ValidationFailed(
            "signature",
            "Рішення підписують КЕП: --document (з `aikom ois decision-document`) і --signature (.p7s).",
        )
    for path, what in ((document_file, "документа рішення"), (signature_file, "підпису")):
        if not path.is_file():
            raise ValidationFailed("document", f"Файл {what} «{path}» не знайдено.")
    return SignedPayload(document=document_file.read_bytes(), signature=signature_file.read_bytes())


def _decide(
    *,
    action: OisAction,
    ois_id: int,
    actor: str,
    reason: str | None,
    effective: str | None,
    document_file: Path | None,
    signature_file: Path | None,
    demo_sign: bool,
    json_output: bool,
) -> None:
    from aikom import commands
    from aikom.core.timefmt import format_date, format_kyiv
    from aikom.db import unit_of_work
    from aikom.services import approvals, ois_admin

    try:
        day = _day(action, effective, ois_id)
        signed = _signed(
            person_ref=actor, ois_id=ois_id, action=action, reason=reason, effective=day,
            document_file=document_file, signature_file=signature_file, demo_sign=demo_sign,
        )  # fmt: skip
        with unit_of_work() as session:
            person_id = approvals.find_person(session=session, ref=actor).id
        acting = commands.actor_of(person_id)
        payload: dict[str, Any] = {"ok": True, "ois_id": ois_id, "action": action.value}
        with unit_of_work() as session:
            if action == OisAction.WIDEN:
                assert day is not None
                phase = ois_admin.widen_capability(
                    session=session,
                    actor=acting,
                    ois_id=ois_id,
                    effective_on=day,
                    comment=reason,
                    signed=signed,
                )
                payload |= {"phase_id": phase.id, "effective_from": phase.effective_from.isoformat()}
                human = f"ОІС №{ois_id}: отримання і передавання даних з {format_kyiv(phase.effective_from)}."
            elif action == OisAction.CANCEL_WIDENING:
                cancelled = ois_admin.cancel_widening(
                    session=session, actor=acting, ois_id=ois_id, reason=reason or "", signed=signed
                )
                payload["cancelled_effective_on"] = cancelled.isoformat()
                human = (
                    f"ОІС №{ois_id}: заплановане з {format_date(cancelled)} розширення до передавання даних "
                    "скасовано; ОІС і далі лише отримує дані."
                )
            elif action == OisAction.DISCONNECT:
                done = ois_admin.disconnect(
                    session=session, actor=acting, ois_id=ois_id, reason=reason or "", signed=signed
                )
                payload |= {"state": done.ois.state.value, "revoked_grant_ids": done.revoked_grant_ids}
                human = (
                    f"ОІС №{ois_id} відключено; відкликано доступів закладів: {len(done.revoked_grant_ids)}."
                )
            else:
                change = ois_admin.suspend if action == OisAction.SUSPEND else ois_admin.reinstate
                ois = change(session=session, actor=acting, ois_id=ois_id, reason=reason or "", signed=signed)
                payload["state"] = ois.state.value
                human = f"ОІС №{ois_id}: стан «{ois_admin.STATE_UK[ois.state]}»."
    except DomainError as error:
        fail(error.message_uk, error.code, json_output)
        return
    emit(payload, json_output, human + " Оператора повідомлено листом.")


@app.command("widen", help="Дозволити підключеній ОІС передавання даних з дати (після розширеної перевірки)")
def widen(
    ois_id: int = OIS_ARGUMENT,
    actor: str = DECIDER_OPTION,
    effective: str = typer.Option(
        ..., "--effective", help="Дата початку фази РРРР-ММ-ДД (сьогодні або пізніше)"
    ),
    comment: str | None = typer.Option(None, "--comment", help="Коментар до рішення"),
    document_file: Annotated[Path | None, DOCUMENT_OPTION] = None,
    signature_file: Annotated[Path | None, SIGNATURE_OPTION] = None,
    demo_sign: bool = DEMO_SIGN_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """A dated `receive_transmit` phase by a signed decision."""
    _decide(
        action=OisAction.WIDEN, ois_id=ois_id, actor=actor, reason=comment, effective=effective,
        document_file=document_file, signature_file=signature_file, demo_sign=demo_sign,
        json_output=json_output,
    )  # fmt: skip


def _state_command(action: OisAction, name: str, help_uk: str) -> None:
    @app.command(name, help=help_uk)
    def command(
        ois_id: int = OIS_ARGUMENT,
        actor: str = DECIDER_OPTION,
        reason: str = typer.Option(..., "--reason", help="Причина (підстава) рішення"),
        document_file: Annotated[Path | None, DOCUMENT_OPTION] = None,
        signature_file: Annotated[Path | None, SIGNATURE_OPTION] = None,
        demo_sign: bool = DEMO_SIGN_OPTION,
        json_output: bool = JSON_OPTION,
    ) -> None:
        _decide(
            action=action, ois_id=ois_id, actor=actor, reason=reason, effective=None,
            document_file=document_file, signature_file=signature_file, demo_sign=demo_sign,
            json_output=json_output,
        )  # fmt: skip


_state_command(
    OisAction.SUSPEND, "suspend", "Зупинити підключену ОІС (доступи закладів не діють, доки зупинена)"
)
_state_command(OisAction.REINSTATE, "reinstate", "Відновити зупинену ОІС")
_state_command(
    OisAction.CANCEL_WIDENING,
    "cancel-widening",
    "Скасувати заплановане (ще не чинне) розширення ОІС до передавання даних",
)
_state_command(
    OisAction.DISCONNECT, "disconnect", "Відключити ОІС остаточно (доступи закладів відкликаються)"
)
