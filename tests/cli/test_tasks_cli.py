"""`aikom tasks document|decide` as an operator uses them: the document to sign, the signed decision,
and the demo-mode shortcut `--demo-sign`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from aikom.cli.main import app
from aikom.core import pki
from aikom.core.decisions import DecisionDocument
from aikom.db import unit_of_work
from aikom.demo.persons import DemoPerson
from aikom.models import ApprovalTask, OrgLevel, OrgUnit, Person, PersonRole, SignedDecision, TaskState
from aikom.services.persons import read_rnokpp
from aikom.settings import Settings, get_settings
from tests import factories as f
from tests.signing import SigningPki, sign

runner = CliRunner()


@dataclass
class Waiting:
    task_id: int
    approver: int
    requester: int


def _waiting_task(database_url: str) -> Waiting:
    """A committed process (with no flow run) and its open approval task."""
    with unit_of_work(database_url) as s:
        c = f.cascade(s, with_edrpou=True)
        requester = f.person(s, f.account(s, c["rayon"]), role=PersonRole.RAYON_ADMIN, rnokpp=f.rnokpp())
        approver = f.person(s, f.account(s, c["oblast"]), role=PersonRole.OBLAST_ADMIN, rnokpp=f.rnokpp())
        _, task = f.approval_task(
            s,
            requester=requester,
            subject=c["hromada"],
            scope=c["hromada"],
            allowed_roles=[PersonRole.OBLAST_ADMIN],
        )
        return Waiting(task_id=task.id, approver=approver.id, requester=requester.id)


@pytest.fixture
def env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The CLI against the test database, with its own data folder (demo mode on)."""
    monkeypatch.setenv("AIKOM_DATABASE_URL", database_url)
    monkeypatch.setenv("AIKOM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AIKOM_DEMO_MODE", "true")
    monkeypatch.delenv("AIKOM_TRUST_DIR", raising=False)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def _invoke(*args: str) -> tuple[int, Any]:
    result = runner.invoke(app, [*args, "--json"])
    return result.exit_code, json.loads(result.stdout)


def _state(database_url: str, task_id: int) -> TaskState:
    with unit_of_work(database_url) as s:
        return s.get_one(ApprovalTask, task_id).state


def test_document_then_signed_decide(
    env: Settings, database_url: str, signing_pki: SigningPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIKOM_TRUST_DIR", str(signing_pki.trust_dir))
    get_settings.cache_clear()
    w = _waiting_task(database_url)
    document = tmp_path / "decision.json"
    code, refused = _invoke(
        "tasks", "document", str(w.task_id), "--as", str(w.requester), "--decision", "approve",
        "--out", str(document),
    )  # fmt: skip
    assert code == 1 and refused["error"] == "role_not_allowed" and not document.exists()

    code, written = _invoke(
        "tasks", "document", str(w.task_id), "--as", str(w.approver), "--decision", "approve",
        "--comment", "Погоджую", "--out", str(document),
    )  # fmt: skip

    assert code == 0, written
    parsed = DecisionDocument.from_bytes(document.read_bytes())
    assert (parsed.task, parsed.decision, parsed.comment, parsed.actor) == (
        w.task_id, "approve", "Погоджую", w.approver,
    )  # fmt: skip
    code, refused = _invoke(
        "tasks", "decide", str(w.task_id), "--as", str(w.approver), "--decision", "approve",
        "--comment", "Погоджую", "--document", str(document),
    )  # fmt: skip
    assert code == 1 and refused["error"] == "validation_failed"

    with unit_of_work(database_url) as s:
        holder = signing_pki.certificate_for(s, s.get_one(Person, w.approver))
    signature = tmp_path / "decision.p7s"
    signature.write_bytes(sign(holder, document.read_bytes()))
    code, decided = _invoke(
        "tasks", "decide", str(w.task_id), "--as", str(w.approver), "--decision", "approve",
        "--comment", "Погоджую", "--document", str(document), "--signature", str(signature),
    )  # fmt: skip

    assert code == 0, decided
    assert decided["resume"] == "no_run"
    assert _state(database_url, w.task_id) == TaskState.DECIDED


def test_decide_without_a_signature_is_refused(env: Settings, database_url: str) -> None:
    w = _waiting_task(database_url)

    code, refused = _invoke(
        "tasks", "decide", str(w.task_id), "--as", str(w.approver), "--decision", "approve"
    )

    assert code == 1
    assert refused["error"] == "decision_signature_required"
    assert "КЕП" in refused["message"]
    assert _state(database_url, w.task_id) == TaskState.OPEN


def _demo_person(settings: Settings, database_url: str, person_id: int) -> None:
    """Make `person_id` a demo person of `settings` (its key in the demo PKI, listed in demo_persons.json)."""
    if not (settings.pki_dir / "root" / "cert.pem").exists():
        pki.init(settings.pki_dir)
    with unit_of_work(database_url) as s:
        person = s.get_one(Person, person_id)
        rnokpp, name, org_unit_id = read_rnokpp(person), person.full_name, person.org_unit_id
        edrpou = s.get_one(OrgUnit, org_unit_id).edrpou
    assert rnokpp and edrpou
    persons = settings.pki_dir / "persons"
    persons.mkdir(parents=True, exist_ok=True)
    issued = pki.issue_person(
        settings.pki_dir, name=name, edrpou=edrpou, rnokpp=rnokpp, title="Адміністратор"
    )
    key_file, cert_file = issued.write(persons / "approver")
    entry = DemoPerson(
        person_id=person_id, key="approver", full_name=name, role="oblast_admin", org_unit_id=org_unit_id,
        org_name="", edrpou=edrpou, key_file=str(key_file), cert_file=str(cert_file),
    )  # fmt: skip
    (settings.pki_dir / "demo_persons.json").write_text(json.dumps([asdict(entry)]), encoding="utf-8")


def test_demo_sign_signs_with_the_demo_persons_key(env: Settings, database_url: str) -> None:
    w = _waiting_task(database_url)
    _demo_person(env, database_url, w.approver)

    code, refused = _invoke(
        "tasks", "decide", str(w.task_id), "--as", str(w.requester), "--decision", "approve", "--demo-sign"
    )  # fmt: skip
    assert code == 1 and refused["error"] == "role_not_allowed"
    code, decided = _invoke(
        "tasks", "decide", str(w.task_id), "--as", str(w.approver), "--decision", "reject",
        "--comment", "Спробую демо", "--demo-sign",
    )  # fmt: skip

    assert code == 0, decided
    with unit_of_work(database_url) as s:
        stored = s.scalars(select(SignedDecision).where(SignedDecision.task_id == w.task_id)).one()
        assert stored.signer_person_id == w.approver
        assert DecisionDocument.from_bytes(stored.document).comment == "Спробую демо"
        decision_id = stored.id
    code, verified = _invoke("decision", "verify", str(decision_id))
    assert code == 0 and verified["ok"] is True


def test_demo_sign_only_for_demo_persons_and_in_demo_mode(
    env: Settings, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = _waiting_task(database_url)
    other = _waiting_task(database_url)
    _demo_person(env, database_url, other.approver)

    code, refused = _invoke(
        "tasks", "decide", str(w.task_id), "--as", str(w.approver), "--decision", "approve", "--demo-sign"
    )  # fmt: skip
    assert code == 1 and "демонстраційного ключа" in refused["message"]

    monkeypatch.setenv("AIKOM_DEMO_MODE", "false")
    get_settings.cache_clear()
    code, refused = _invoke(
        "tasks", "decide", str(other.task_id), "--as", str(other.approver),
        "--decision", "approve", "--demo-sign",
    )  # fmt: skip
    assert code == 1 and refused["error"] == "demo_mode_off"
    assert _state(database_url, other.task_id) == TaskState.OPEN


def test_decide_with_an_attached_signature_alone(
    env: Settings, database_url: str, signing_pki: SigningPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--signature FILE.p7s` alone: the document travels inside it (`openssl cms -sign -nodetach`)."""
    import subprocess

    monkeypatch.setenv("AIKOM_TRUST_DIR", str(signing_pki.trust_dir))
    get_settings.cache_clear()
    w = _waiting_task(database_url)
    document = tmp_path / "decision.json"
    code, _ = _invoke(
        "tasks",
        "document",
        str(w.task_id),
        "--as",
        str(w.approver),
        "--decision",
        "reject",
        "--comment",
        "Неповні дані",
        "--out",
        str(document),
    )
    assert code == 0
    with unit_of_work(database_url) as s:
        holder = signing_pki.certificate_for(s, s.get_one(Person, w.approver))
    key_path, cert_path = holder.write(tmp_path / "approver")
    detached = tmp_path / "detached.p7s"
    attached = tmp_path / "attached.p7s"
    for out, extra in ((detached, []), (attached, ["-nodetach"])):
        subprocess.run(
            [
                "openssl",
                "cms",
                "-sign",
                "-binary",
                "-in",
                str(document),
                "-signer",
                str(cert_path),
                "-inkey",
                str(key_path),
                "-outform",
                "DER",
                "-out",
                str(out),
                *extra,
            ],
            check=True,
        )

    code, refused = _invoke(
        "tasks",
        "decide",
        str(w.task_id),
        "--as",
        str(w.approver),
        "--decision",
        "reject",
        "--comment",
        "Неповні дані",
        "--signature",
        str(detached),
    )
    assert code == 1 and "--document" in refused["message"]
    assert _state(database_url, w.task_id) == TaskState.OPEN

    code, decided = _invoke(
        "tasks",
        "decide",
        str(w.task_id),
        "--as",
        str(w.approver),
        "--decision",
        "reject",
        "--comment",
        "Неповні дані",
        "--signature",
        str(attached),
    )
    assert code == 0, decided
    assert _state(database_url, w.task_id) == TaskState.DECIDED


def test_process_show_as_a_person_refuses_an_outsider(env: Settings, database_url: str) -> None:
    w = _waiting_task(database_url)
    with unit_of_work(database_url) as s:
        process_id = s.get_one(ApprovalTask, w.task_id).process_id
        other_oblast = f.org_unit(s, level=OrgLevel.OBLAST, parent=f.cascade(s)["national"])
        outsider = f.person(s, f.account(s, other_oblast), role=PersonRole.OBLAST_ADMIN).id

    code, refused = _invoke("process", "show", str(process_id), "--as", str(outsider))
    assert code == 1
    assert refused["error"] == "not_in_scope"
    assert refused["message"] == f"Процес №{process_id} поза вашою зоною доступу."

    code, shown = _invoke("process", "show", str(process_id), "--as", str(w.requester))
    assert code == 0 and shown["id"] == process_id
    assert [step["step_key"] for step in shown["steps"]] == ["approve"]
