"""An ОІС connection end to end: the CLI, a real Prefect server and runner, real КЕП signatures — the
operator registers with its company's КЕП and applies; a review fails an item, the operator fixes and
resubmits, the second review passes (the signed conclusion), the reviewer may not approve the agreement,
another admin does → CONNECTED with capability `receive`; the operator's email reaches a real SMTP sink."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker

from aikom.core.kep.reasons import Purpose
from aikom.core.kep.verify import verify_detached
from aikom.db import unit_of_work
from aikom.mail.delivery import deliver_pending_sync
from aikom.mail.sink import read_mailbox, start_sink
from aikom.models import (
    Agreement,
    AgreementState,
    ApprovalTask,
    Decision,
    Ois,
    OisCapability,
    OisPhase,
    OisReview,
    OisState,
    Person,
    PersonRole,
    TaskState,
)
from aikom.services import approvals
from aikom.settings import Settings
from tests import factories as f
from tests.flows.conftest import CliCall, SignedDecide, wait_for_process, wait_for_step
from tests.signing import SigningPki, sign

CONTACT = "connect-flow@ejournal.example.org"


@dataclass
class Institute:
    reviewer: int
    approver: int


def _institute(database_url: str) -> Institute:
    with unit_of_work(database_url) as s:
        units = f.cascade(s, with_edrpou=True)
        units["national"].edrpou = f.edrpou()
        account = f.account(s, units["national"])
        admins = [f.person(s, account, role=PersonRole.INSTITUTE_ADMIN, rnokpp=f.rnokpp()) for _ in range(2)]
        return Institute(reviewer=admins[0].id, approver=admins[1].id)


def _signed(database_url: str, signing: SigningPki, person_id: int, document: Path) -> Path:
    """Sign a written document with the person's own КЕП; the .p7s beside it."""
    with unit_of_work(database_url) as s:
        holder = signing.certificate_for(s, s.get_one(Person, person_id))
    signature = document.with_name(document.name + ".p7s")
    signature.write_bytes(sign(holder, document.read_bytes()))
    return signature


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_ois_from_registration_through_a_returned_review_to_connected(
    cli: CliCall,
    cli_decide: SignedDecide,
    database_url: str,
    api_url: str,
    signing_pki: SigningPki,
    tmp_path: Path,
) -> None:
    institute = _institute(database_url)
    edrpou = f.edrpou()

    # 1. The operator registers with its company's КЕП (a signed challenge).
    company_kep = signing_pki.issue(name="Петренко Олена", edrpou=edrpou, rnokpp=f.rnokpp())
    code, challenge = cli("signin", "challenge")
    assert code == 0
    signature = tmp_path / "challenge.p7s"
    signature.write_bytes(sign(company_kep, challenge["content"].encode()))
    code, registered = cli(
        "ois", "register", "--nonce", challenge["nonce"], "--signature", str(signature),
        "--email", "olena@ejournal.example.org", "--company", "ТОВ «Е-Журнал Флоу»",
    )  # fmt: skip
    assert code == 0, registered
    operator = int(registered["person_id"])

    # 2. It applies with the agreement signed by the company's КЕП; an unsigned one is refused first.
    agreement = tmp_path / "договір.pdf"
    agreement.write_bytes("%PDF-1.4 Договір про приєднання ТОВ «Е-Журнал Флоу»".encode())
    application = (
        "ois", "apply", "--as", str(operator), "--system-name", "Е-Журнал Флоу",
        "--site", "https://flow.ejournal.example.org", "--contact-name", "Петренко Олена",
        "--contact-email", CONTACT, "--agreement", str(agreement), "--all-met",
    )  # fmt: skip
    code, refused = cli(*application)
    assert code == 1 and "додайте файл КЕП-підпису" in refused["message"]
    agreement_signature = tmp_path / "договір.pdf.p7s"
    agreement_signature.write_bytes(sign(company_kep, agreement.read_bytes()))
    code, started = cli(*application, "--agreement-signature", str(agreement_signature))
    assert code == 0 and started["started"] is True, started
    process_id, run_id = int(started["process_id"]), str(started["flow_run_id"])
    with unit_of_work(database_url) as s:
        ois_id = s.scalars(select(Ois.id).where(Ois.company_edrpou == edrpou)).one()

    # 3. The review is a checklist on its own screen: the generic queue's commands refuse it, naming the
    #    right command; the task stays open, nothing is recorded, the run still waits for `review-1`.
    wait_for_step(run_id, "review-1", api_url)
    with unit_of_work(database_url) as s:
        queued = s.scalars(
            select(ApprovalTask).where(
                ApprovalTask.process_id == process_id, ApprovalTask.step_key == "review-1"
            )
        ).one()
        queued_id = queued.id
        reviewer = s.get_one(Person, institute.reviewer)
        generic = approvals.decision_document(
            task=queued, actor=reviewer, decision=Decision.REJECT, comment="Без перевірки"
        )
    code, refused = cli(
        "tasks", "document", str(queued_id), "--as", str(institute.reviewer), "--decision", "reject",
        "--out", str(tmp_path / "generic.json"),
    )  # fmt: skip
    assert code == 1 and refused["error"] == "step_has_own_screen", refused
    assert "aikom ois review --document" in refused["message"] and "«ОІС»" in refused["message"]
    (tmp_path / "generic.json").write_bytes(generic)
    code, refused = cli(
        "tasks", "decide", str(queued_id), "--as", str(institute.reviewer), "--decision", "reject",
        "--comment", "Без перевірки", "--document", str(tmp_path / "generic.json"),
        "--signature", str(_signed(database_url, signing_pki, institute.reviewer, tmp_path / "generic.json")),
    )  # fmt: skip
    assert code == 1 and refused["error"] == "step_has_own_screen", refused
    assert "не ухвалюють у «Моїх завданнях» чи командою `aikom tasks decide`" in refused["message"]
    with unit_of_work(database_url) as s:
        task = s.get_one(ApprovalTask, queued_id)
        assert (task.state, task.decision) == (TaskState.OPEN, None)
        assert s.scalars(select(OisReview).where(OisReview.ois_id == ois_id)).first() is None
        assert s.get_one(Ois, ois_id).state == OisState.IN_REVIEW
        assert (
            s.scalars(
                select(ApprovalTask).where(
                    ApprovalTask.process_id == process_id, ApprovalTask.step_key == "review-1-2"
                )
            ).first()
            is None
        )

    # 4. The review fails an item: the application is RETURNED, the operator is emailed.
    document = tmp_path / "review-1.json"
    code, written = cli(
        "ois", "review-document", str(ois_id), "--as", str(institute.reviewer),
        "--fail", "TR-02=Ключі API закладів зберігаються відкритим текстом", "--out", str(document),
    )  # fmt: skip
    assert code == 0, written
    code, reviewed = cli(
        "ois", "review", "--as", str(institute.reviewer), "--document", str(document),
        "--signature", str(_signed(database_url, signing_pki, institute.reviewer, document)),
    )  # fmt: skip
    assert code == 0 and reviewed["outcome"] == "failed", reviewed

    # 5. The operator fixes it and resubmits (signed) → the second submission goes to review.
    wait_for_step(run_id, "resubmit-1", api_url)
    with unit_of_work(database_url) as s:
        assert s.get_one(Ois, ois_id).state == OisState.RETURNED
    document = tmp_path / "resubmit.json"
    code, written = cli(
        "ois", "step-document", str(ois_id), "--as", str(operator), "--step", "resubmit",
        "--comment", "Ключі тепер шифруються", "--out", str(document),
    )  # fmt: skip
    assert code == 0, written
    code, resubmitted = cli(
        "ois", "resubmit", str(ois_id), "--as", str(operator), "--document", str(document),
        "--signature", str(_signed(database_url, signing_pki, operator, document)),
    )  # fmt: skip
    assert code == 0 and resubmitted["submission"] == 2, resubmitted

    # 6. The second review passes: the Institute's conclusion, signed by the reviewer.
    wait_for_step(run_id, "review-2", api_url)
    document = tmp_path / "review-2.json"
    code, written = cli(
        "ois", "review-document", str(ois_id), "--as", str(institute.reviewer), "--out", str(document)
    )
    assert code == 0, written
    code, reviewed = cli(
        "ois", "review", "--as", str(institute.reviewer), "--document", str(document),
        "--signature", str(_signed(database_url, signing_pki, institute.reviewer, document)),
    )  # fmt: skip
    assert code == 0 and reviewed["conclusion_number"].startswith("ВЗ-"), reviewed

    # 7. The reviewer may not approve the agreement; another institute admin does (signed).
    wait_for_step(run_id, "agreement", api_url)
    code, refused = cli(
        "ois", "step-document", str(ois_id), "--as", str(institute.reviewer), "--step", "agreement",
        "--out", str(tmp_path / "own.json"),
    )  # fmt: skip
    assert code == 1 and refused["error"] == "ois_four_eyes"
    document = tmp_path / "agreement.json"
    code, written = cli(
        "ois", "step-document", str(ois_id), "--as", str(institute.approver), "--step", "agreement",
        "--out", str(document),
    )  # fmt: skip
    assert code == 0, written
    code, decided = cli(
        "ois", "agreement", str(ois_id), "--as", str(institute.approver), "--document", str(document),
        "--signature", str(_signed(database_url, signing_pki, institute.approver, document)),
    )  # fmt: skip
    assert code == 0, decided

    # 8. CONNECTED with `receive` from now; the agreement numbered and dated; the history kept.
    view = wait_for_process(database_url, process_id)
    assert view.state == "completed", view.outcome
    with unit_of_work(database_url) as s:
        ois = s.get_one(Ois, ois_id)
        assert (ois.state, ois.capability, ois.submission_count) == (
            OisState.CONNECTED,
            OisCapability.RECEIVE,
            2,
        )
        assert ois.client_id and ois.connected_at
        phase = s.scalars(select(OisPhase).where(OisPhase.ois_id == ois_id)).one()
        assert phase.capability == OisCapability.RECEIVE and phase.effective_from <= ois.connected_at
        approved = s.scalars(
            select(Agreement).where(Agreement.ois_id == ois_id, Agreement.state == AgreementState.APPROVED)
        ).one()
        assert approved.number and approved.agreement_date and approved.approved_by_id == institute.approver
        outcomes = s.scalars(
            select(OisReview.outcome).where(OisReview.ois_id == ois_id).order_by(OisReview.id)
        )
        assert [o.value for o in outcomes] == ["failed", "passed"]

    # 9. The operator downloads the conclusion; its signature verifies.
    code, card = cli("ois", "show", str(ois_id), "--as", str(operator))
    assert code == 0 and card["state"] == "connected"
    conclusion_id = card["reviews"][1]["conclusion_id"]
    out = tmp_path / "висновок.json"
    code, downloaded = cli("ois", "conclusion", str(conclusion_id), "--as", str(operator), "--out", str(out))
    assert code == 0, downloaded
    from aikom.core.kep import TrustList

    check = verify_detached(
        Path(downloaded["signature"]).read_bytes(),
        out.read_bytes(),
        trust=TrustList.load(signing_pki.trust_dir),
        purpose=Purpose.DECISION,
    )
    assert check.ok, check.message_uk

    # The public list (no sign-in) now carries it, with exactly what the Institute publishes.
    code, published = cli("ois", "list", "--public")
    assert code == 0, published
    listed = [o for o in published["ois"] if o["name"] == "Е-Журнал Флоу"]
    assert len(listed) == 1 and listed[0]["capability"] == "receive"
    assert set(listed[0]) == {"name", "company", "edrpou", "site", "capability", "since"}

    # 10. The outbox reaches a real SMTP server: the operator received «returned» and «connected».
    port = _free_port()
    sink = start_sink(tmp_path / "mailbox", port=port)
    engine = create_engine(database_url)
    try:
        deliver_pending_sync(Settings(smtp_port=port, database_url=database_url), sessionmaker(bind=engine))
    finally:
        sink.stop()
        engine.dispose()
    received = read_mailbox(tmp_path / "mailbox")
    subjects = [m.subject for m in received if m.to == CONTACT]
    assert "АІКОМ: ОІС «Е-Журнал Флоу» — заявку повернуто на доопрацювання" in subjects
    assert "АІКОМ: ОІС «Е-Журнал Флоу» — ОІС підключено до АІКОМ" in subjects
    # The operator is asked to resubmit on «Моя ОІС» (a page it can open), never sent to the work queue;
    # the reviewer is sent to «ОІС».
    [asked] = [
        m for m in received if m.to == "olena@ejournal.example.org" and "потрібне ваше рішення" in m.subject
    ]
    assert "на сторінці «Моя ОІС»" in asked.text and "/my-ois" in asked.text, asked.text
    assert "/tasks" not in asked.text and "«Мої завдання»" not in asked.text
    with unit_of_work(database_url) as s:
        reviewer_email = s.get_one(Person, institute.reviewer).email
    review_asks = [m for m in received if m.to == reviewer_email and "Перевірити відповідність" in m.subject]
    assert review_asks and all("/ois" in m.text and "/tasks" not in m.text for m in review_asks)
