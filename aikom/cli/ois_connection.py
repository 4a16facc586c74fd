"""`aikom ois register|apply|review-document|review|resubmit|agreement|show|applications|conclusion`: an
ОІС operator registers and applies; institute admins review (signed), the operator resubmits, another
admin approves the agreement; the signed conformity conclusion is downloaded.

Documents to sign are written to a file, signed with the person's КЕП outside АІКОМ (a detached .p7s), and
submitted with the signature — as `aikom tasks document|decide` do."""

from __future__ import annotations

import base64
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer

from aikom.cli.ois import app
from aikom.cli.output import emit, fail
from aikom.core.errors import DomainError, ValidationFailed

JSON_OPTION = typer.Option(False, "--json", help="Звіт у JSON")
AS_OPTION = typer.Option(..., "--as", help="Особа: номер картки або email")


def _read(path: Path, what_uk: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise ValidationFailed(what_uk, f"{what_uk}: файл «{path}» не прочитано.") from error


def _refused(error: Exception, json_output: bool) -> None:
    """A refusal as a Ukrainian message (and, for invalid parameters, every bad field)."""
    from pydantic import ValidationError

    from aikom.core.validation import validation_message_uk

    if isinstance(error, DomainError):
        fail(error.message_uk, error.code, json_output)
    if isinstance(error, ValidationError):
        fail(validation_message_uk(error), "validation_failed", json_output)
    raise error


@app.command(
    "register", help="Зареєструвати оператора ОІС: виклик `aikom signin challenge`, підписаний КЕП компанії"
)
def register(
    nonce: str = typer.Option(..., "--nonce", help="Одноразовий виклик"),
    signature: Path = typer.Option(..., "--signature", help="Підпис виклику (.p7s) КЕП працівника компанії"),
    email: str = typer.Option(..., "--email", help="Ваша ел. пошта"),
    company: str | None = typer.Option(None, "--company", help="Назва компанії (для нової компанії)"),
    client: str = typer.Option("cli", "--client", help="Ідентифікатор клієнта для обмеження спроб"),
    json_output: bool = JSON_OPTION,
) -> None:
    """The company (by the certificate's ЄДРПОУ), its account and the signer's operator card."""
    from aikom.db import unit_of_work
    from aikom.services import ois_connection as oc
    from aikom.services.trust import current_trust_list
    from aikom.settings import get_settings

    settings = get_settings()
    try:
        with unit_of_work() as session:
            result = oc.register_operator(
                session=session,
                settings=settings,
                trust=current_trust_list(settings),
                nonce=nonce,
                signature=_read(signature, "Підпис"),
                email=email,
                company_name=company,
                client_key=client,
            )
    except DomainError as error:
        if not isinstance(error, oc.RegistrationRateLimited):
            with unit_of_work() as session:
                oc.registration_refused(session=session, nonce=nonce, client_key=client, reason=error.code)
        _refused(error, json_output)
        return
    payload = {"ok": True, **result.__dict__}
    emit(payload, json_output, f"Оператора ОІС зареєстровано (картка № {result.person_id}); увійдіть з КЕП.")


@app.command("apply", help="Подати заявку на підключення ОІС (оператор)")
def apply(
    actor: str = AS_OPTION,
    system_name: str = typer.Option(..., "--system-name", help="Назва ОІС"),
    site: str = typer.Option(..., "--site", help="Сайт ОІС"),
    contact_name: str = typer.Option(..., "--contact-name", help="Контактна особа"),
    contact_email: str = typer.Option(..., "--contact-email", help="Ел. пошта для листів"),
    contact_phone: str | None = typer.Option(None, "--contact-phone", help="Телефон"),
    agreement: Path = typer.Option(..., "--agreement", help="Файл договору про приєднання"),
    agreement_signature: Path | None = typer.Option(
        None, "--agreement-signature", help="КЕП-підпис договору компанією (.p7s)"
    ),
    assessment: Path | None = typer.Option(
        None, "--assessment", help='Самооцінка: JSON [{"code": "TR-01", "met": true, "note": "…"}, …]'
    ),
    all_met: bool = typer.Option(False, "--all-met", help="Самооцінка: усі вимоги виконано"),
    json_output: bool = JSON_OPTION,
) -> None:
    """Start the `ois-connection` process with the signed agreement and the self-assessment."""
    from pydantic import ValidationError

    from aikom import commands
    from aikom.db import unit_of_work
    from aikom.services import approvals
    from aikom.services import ois_connection as oc

    try:
        if assessment is not None:
            items: list[dict[str, Any]] = json.loads(_read(assessment, "Самооцінка").decode("utf-8"))
        elif all_met:
            items = [{"code": c.code, "met": True} for c in oc.checklist()]
        else:
            raise ValidationFailed("self_assessment", "Самооцінка: додайте --assessment ФАЙЛ або --all-met.")
        with unit_of_work() as session:
            person_id = approvals.find_person(session=session, ref=actor).id
        outcome = commands.start_process(
            process_type="ois-connection",
            actor=commands.actor_of(person_id),
            params={
                "system_name": system_name,
                "site": site,
                "contact_name": contact_name,
                "contact_email": contact_email,
                "contact_phone": contact_phone,
                "agreement_file_name": agreement.name,
                "agreement_base64": base64.b64encode(_read(agreement, "Договір")).decode(),
                "agreement_signature_base64": base64.b64encode(
                    _read(agreement_signature, "Підпис договору") if agreement_signature else b""
                ).decode(),
                "self_assessment": items,
            },
        )
    except (DomainError, ValidationError, json.JSONDecodeError) as error:
        if isinstance(error, json.JSONDecodeError):
            fail("Самооцінка: файл не є JSON-переліком відповідей.", "validation_failed", json_output)
        _refused(error, json_output)
        return
    emit({"ok": True, **outcome.model_dump(mode="json")}, json_output, outcome.message_uk)


def _items(passed: list[str], failed: list[str], round_: str) -> list[Any]:
    from aikom.models import ReviewRound
    from aikom.services import ois_connection as oc

    notes: dict[str, str] = {}
    for entry in failed:
        code, _, note = entry.partition("=")
        notes[code.strip()] = note.strip()
    codes = [c.code for c in oc.checklist(ReviewRound(round_))]
    for code in [*passed, *notes]:
        if code not in codes:
            raise ValidationFailed(
                "items", f"Перевірка: вимоги «{code}» немає в переліку ({', '.join(codes)})."
            )
    return [oc.ReviewItemInput(code=c, passed=c not in notes, note=notes.get(c)) for c in codes]


@app.command("review-document", help="Сформувати документ перевірки ОІС для підпису (адміністратор ІОА)")
def review_document(
    ois_id: int = typer.Argument(..., help="Номер ОІС"),
    actor: str = AS_OPTION,
    failed: list[str] = typer.Option([], "--fail", help="Невиконана вимога: КОД=що виправити (кілька разів)"),
    passed: list[str] = typer.Option([], "--pass", help="Виконана вимога (усі, що не --fail, виконані)"),
    round_: str = typer.Option("connection", "--round", help="connection (підключення) або extended"),
    comment: str | None = typer.Option(None, "--comment", help="Коментар"),
    out: Path = typer.Option(..., "--out", help="Куди записати документ"),
    json_output: bool = JSON_OPTION,
) -> None:
    """The review document (the conclusion, when every item passes) to sign with КЕП."""
    from aikom.db import unit_of_work
    from aikom.models import ReviewRound
    from aikom.services import approvals
    from aikom.services import ois_connection as oc

    try:
        if round_ not in ("connection", "extended"):
            raise ValidationFailed("round", "Раунд перевірки: connection або extended.")
        items = _items(passed, failed, round_)
        with unit_of_work() as session:
            person = approvals.find_person(session=session, ref=actor)
            document = oc.review_document(
                session=session,
                ois_id=ois_id,
                actor=person,
                items=items,
                comment=comment,
                round_=ReviewRound(round_),
            )
    except DomainError as error:
        _refused(error, json_output)
        return
    out.write_bytes(document)
    emit(
        {"ok": True, "document": str(out)},
        json_output,
        f"Документ перевірки записано: {out}. Підпишіть його КЕП.",
    )


@app.command("review", help="Подати підписану перевірку ОІС (адміністратор ІОА)")
def review(
    actor: str = AS_OPTION,
    document: Path = typer.Option(..., "--document", help="Документ перевірки"),
    signature: Path = typer.Option(..., "--signature", help="Його КЕП-підпис (.p7s)"),
    json_output: bool = JSON_OPTION,
) -> None:
    """Record the signed review; the waiting run goes on."""
    from aikom.db import unit_of_work
    from aikom.services import approvals
    from aikom.services import ois_connection as oc

    try:
        with unit_of_work() as session:
            person_id = approvals.find_person(session=session, ref=actor).id
        row = oc.submit_review_command(
            person_id=person_id, document=_read(document, "Документ"), signature=_read(signature, "Підпис")
        )
    except DomainError as error:
        _refused(error, json_output)
        return
    human = (
        f"Перевірку пройдено; висновок № {row.conclusion_number}."
        if row.conclusion_number
        else f"Перевірку записано: {'пройдено' if row.outcome == 'passed' else 'не пройдено'}."
    )
    emit({"ok": True, **asdict(row)}, json_output, human)


@app.command(
    "step-document", help="Документ рішення для підпису: повторне подання (оператор) чи договір (ІОА)"
)
def step_document(
    ois_id: int = typer.Argument(..., help="Номер ОІС"),
    actor: str = AS_OPTION,
    step: str = typer.Option(..., "--step", help="resubmit (повторне подання) або agreement (договір)"),
    decision: str = typer.Option("approve", "--decision", help="Для договору: approve або reject"),
    comment: str | None = typer.Option(None, "--comment", help="Коментар"),
    out: Path = typer.Option(..., "--out", help="Куди записати документ"),
    json_output: bool = JSON_OPTION,
) -> None:
    """The decision document of the resubmission or the agreement step, to sign with КЕП."""
    from aikom.db import unit_of_work
    from aikom.models import Decision
    from aikom.services import approvals
    from aikom.services import ois_connection as oc

    try:
        with unit_of_work() as session:
            person = approvals.find_person(session=session, ref=actor)
            if step == "resubmit":
                document = oc.resubmit_document(session=session, ois_id=ois_id, actor=person, comment=comment)
            elif step == "agreement":
                if decision not in ("approve", "reject"):
                    raise ValidationFailed("decision", "Рішення щодо договору: approve або reject.")
                document = oc.agreement_document(
                    session=session, ois_id=ois_id, actor=person, decision=Decision(decision), comment=comment
                )
            else:
                raise ValidationFailed("step", "Крок: resubmit або agreement.")
    except DomainError as error:
        _refused(error, json_output)
        return
    out.write_bytes(document)
    emit({"ok": True, "document": str(out)}, json_output, f"Документ записано: {out}. Підпишіть його КЕП.")


@app.command("resubmit", help="Подати доопрацьовану заявку повторно (оператор), з підписаним документом")
def resubmit(
    ois_id: int = typer.Argument(..., help="Номер ОІС"),
    actor: str = AS_OPTION,
    document: Path = typer.Option(
        ..., "--document", help="Документ `aikom ois step-document --step resubmit`"
    ),
    signature: Path = typer.Option(..., "--signature", help="Його КЕП-підпис (.p7s)"),
    site: str | None = typer.Option(None, "--site", help="Новий сайт"),
    agreement: Path | None = typer.Option(None, "--agreement", help="Новий файл договору"),
    agreement_signature: Path | None = typer.Option(None, "--agreement-signature", help="Його підпис (.p7s)"),
    assessment: Path | None = typer.Option(None, "--assessment", help="Нова самооцінка (JSON)"),
    json_output: bool = JSON_OPTION,
) -> None:
    """Apply the fixes and resubmit; the waiting run goes on to the next review."""
    from aikom.core.decisions import DecisionDocument
    from aikom.db import unit_of_work
    from aikom.processes.ois_connection import SelfAssessmentItem
    from aikom.services import approvals
    from aikom.services import ois_connection as oc

    try:
        raw = _read(document, "Документ")
        try:
            comment = DecisionDocument.from_bytes(raw).comment or None
        except ValueError as error:
            raise ValidationFailed("document", "Документ: це не документ рішення АІКОМ.") from error
        changes = oc.ApplicationChanges(
            site=site,
            agreement_file_name=agreement.name if agreement else None,
            agreement=_read(agreement, "Договір") if agreement else None,
            agreement_signature=_read(agreement_signature, "Підпис договору")
            if agreement_signature
            else None,
            self_assessment=[
                SelfAssessmentItem.model_validate(i) for i in json.loads(_read(assessment, "Самооцінка"))
            ]
            if assessment
            else None,
            comment=comment,
        )
        with unit_of_work() as session:
            person_id = approvals.find_person(session=session, ref=actor).id
        count = oc.resubmit_command(
            person_id=person_id,
            ois_id=ois_id,
            changes=changes,
            signed=approvals.SignedPayload(document=raw, signature=_read(signature, "Підпис")),
        )
    except DomainError as error:
        _refused(error, json_output)
        return
    emit({"ok": True, "submission": count}, json_output, f"Заявку подано повторно (подання {count}).")


@app.command("agreement", help="Погодити чи відхилити договір про приєднання (інший адміністратор ІОА)")
def agreement_decision(
    ois_id: int = typer.Argument(..., help="Номер ОІС"),
    actor: str = AS_OPTION,
    document: Path = typer.Option(
        ..., "--document", help="Документ `aikom ois step-document --step agreement`"
    ),
    signature: Path = typer.Option(..., "--signature", help="Його КЕП-підпис (.p7s)"),
    json_output: bool = JSON_OPTION,
) -> None:
    """Decide the agreement as the signed document says; the run goes on (connection or refusal)."""
    from aikom.core.decisions import DecisionDocument
    from aikom.db import unit_of_work
    from aikom.models import Decision
    from aikom.services import approvals
    from aikom.services import ois_connection as oc

    try:
        raw = _read(document, "Документ")
        try:
            parsed = DecisionDocument.from_bytes(raw)
        except ValueError as error:
            raise ValidationFailed("document", "Документ: це не документ рішення АІКОМ.") from error
        with unit_of_work() as session:
            person_id = approvals.find_person(session=session, ref=actor).id
        oc.decide_agreement_command(
            person_id=person_id,
            ois_id=ois_id,
            decision=Decision(parsed.decision),
            comment=parsed.comment or None,
            signed=approvals.SignedPayload(document=raw, signature=_read(signature, "Підпис")),
        )
    except DomainError as error:
        _refused(error, json_output)
        return
    emit({"ok": True, "decision": parsed.decision}, json_output, "Рішення щодо договору ухвалено.")


@app.command("show", help="Картка ОІС: заявка, перевірки, договір, висновок (оператор цієї ОІС або ІОА)")
def show(
    ois_id: int = typer.Argument(..., help="Номер ОІС"),
    actor: str = AS_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """One ОІС as its operator or institute staff see it."""
    from aikom.db import unit_of_work
    from aikom.services import approvals
    from aikom.services import ois_connection_views as views

    try:
        with unit_of_work() as session:
            person = approvals.find_person(session=session, ref=actor)
            card = views.ois_card(session=session, viewer_id=person.id, ois_id=ois_id)
    except DomainError as error:
        _refused(error, json_output)
        return
    human = f"ОІС № {card.id} «{card.system_name}» ({card.company_name}): {card.state_label}"
    emit(card.model_dump(mode="json"), json_output, human)


@app.command(
    "applications", help="Заявки ОІС і їх перевірки (працівники ІОА) або ОІС вашої компанії (оператор)"
)
def applications(actor: str = AS_OPTION, json_output: bool = JSON_OPTION) -> None:
    """Every application as the staff see it, or the operator's own."""
    from aikom.db import unit_of_work
    from aikom.models import PersonRole
    from aikom.services import approvals
    from aikom.services import ois_connection_views as views

    try:
        with unit_of_work() as session:
            person = approvals.find_person(session=session, ref=actor)
            cards = (
                views.my_systems(session=session, person_id=person.id)
                if person.role == PersonRole.OIS_OPERATOR
                else views.staff_applications(session=session, viewer_id=person.id)
            )
    except DomainError as error:
        _refused(error, json_output)
        return
    lines = [f"№ {c.id} «{c.system_name}» ({c.company_name}): {c.state_label}" for c in cards] or [
        "Заявок немає."
    ]
    emit([c.model_dump(mode="json") for c in cards], json_output, "\n".join(lines))


@app.command("conclusion", help="Завантажити висновок про відповідність (документ і його підпис .p7s)")
def conclusion(
    conclusion_id: int = typer.Argument(..., help="Номер висновку (запису)"),
    actor: str = AS_OPTION,
    out: Path = typer.Option(..., "--out", help="Файл документа; підпис — поруч, FILE.p7s"),
    json_output: bool = JSON_OPTION,
) -> None:
    """Write the signed conclusion and its detached signature (its operator and institute staff only)."""
    from aikom.db import unit_of_work
    from aikom.services import approvals
    from aikom.services import ois_connection_views as views

    try:
        with unit_of_work() as session:
            person = approvals.find_person(session=session, ref=actor)
            file = views.conclusion_file(session=session, viewer_id=person.id, conclusion_id=conclusion_id)
    except DomainError as error:
        _refused(error, json_output)
        return
    out.write_bytes(file.document)
    signature_path = out.with_name(out.name + ".p7s")
    signature_path.write_bytes(file.signature)
    payload = {"ok": True, "number": file.number, "document": str(out), "signature": str(signature_path)}
    emit(payload, json_output, f"Висновок № {file.number}: {out} і {signature_path}.")
