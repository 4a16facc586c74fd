"""`aikom ois register|apply|applications|show|review-document|conclusion` with the engine down: the
operator registers with its company's КЕП and applies (recorded; the run starts once the engine is back),
bad agreements are refused in Ukrainian, and nobody but the operator and institute staff reads it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from aikom.core.pki import IssuedPerson
from aikom.db import unit_of_work
from aikom.models import Ois, OisState, PersonRole
from aikom.services import ois_connection as oc
from tests import factories as f
from tests.cli.conftest import Aikom
from tests.signing import SigningPki, sign


def _register(
    aikom: Aikom, signing: SigningPki, tmp_path: Path, edrpou: str, name: str
) -> tuple[int, IssuedPerson]:
    holder = signing.issue(name=name, edrpou=edrpou, rnokpp=f.rnokpp())
    code, challenge = aikom("signin", "challenge")
    assert code == 0
    signature = tmp_path / f"{edrpou}-{name[:3]}.p7s"
    signature.write_bytes(sign(holder, challenge["content"].encode()))
    code, registered = aikom(
        "ois", "register", "--nonce", challenge["nonce"], "--signature", str(signature),
        "--email", f"{edrpou}@ops.example.org", "--company", f"ТОВ «Оператор {edrpou}»",
    )  # fmt: skip
    assert code == 0, registered
    return int(registered["person_id"]), holder


def test_register_apply_and_who_may_read(
    aikom: Aikom, signing_pki: SigningPki, tmp_path: Path, database_url: str
) -> None:
    with unit_of_work(database_url) as s:
        units = f.cascade(s, with_edrpou=True)
        units["national"].edrpou = f.edrpou()
        admin = f.person(
            s, f.account(s, units["national"]), role=PersonRole.INSTITUTE_ADMIN, rnokpp=f.rnokpp()
        )
        director = f.person(s, f.account(s, units["school"]), role=PersonRole.DIRECTOR, rnokpp=f.rnokpp())
        admin_id, director_id = admin.id, director.id
    edrpou = f.edrpou()
    operator, holder = _register(aikom, signing_pki, tmp_path, edrpou, "Коваль Ігор")
    stranger_id, stranger = _register(aikom, signing_pki, tmp_path, f.edrpou(), "Чужий Оператор")

    agreement = tmp_path / "договір.pdf"
    agreement.write_bytes("%PDF-1.4 Договір про приєднання".encode())
    base = (
        "ois", "apply", "--as", str(operator), "--system-name", "Журнал CLI", "--site", "https://cli.example.org",
        "--contact-name", "Коваль Ігор", "--contact-email", "cli@ops.example.org", "--all-met",
        "--agreement", str(agreement),
    )  # fmt: skip

    # Bad agreements: unsigned, signed by another company, over the size limit — refused, nothing recorded.
    code, refused = aikom(*base)
    assert code == 1 and "додайте файл КЕП-підпису" in refused["message"]
    foreign = tmp_path / "foreign.p7s"
    foreign.write_bytes(sign(stranger, agreement.read_bytes()))
    code, refused = aikom(*base, "--agreement-signature", str(foreign))
    assert code == 1 and refused["error"] == "validation_failed"
    assert f"вашої компанії (ЄДРПОУ {edrpou})" in refused["message"]
    huge = tmp_path / "huge.pdf"
    huge.write_bytes(b"%PDF" + b"0" * oc.MAX_AGREEMENT_BYTES)
    signature = tmp_path / "huge.p7s"
    signature.write_bytes(sign(holder, huge.read_bytes()))
    code, refused = aikom(*base[:-1], str(huge), "--agreement-signature", str(signature))
    assert code == 1 and "більший за допустимі 5 МБ" in refused["message"]
    with unit_of_work(database_url) as s:
        assert s.scalar(select(func.count()).select_from(Ois).where(Ois.company_edrpou == edrpou)) == 0

    # Signed by the company: recorded (the engine is down: the run starts once it is back).
    good = tmp_path / "good.p7s"
    good.write_bytes(sign(holder, agreement.read_bytes()))
    code, started = aikom(*base, "--agreement-signature", str(good))
    assert code == 0 and started["started"] is False, started
    with unit_of_work(database_url) as s:
        ois = s.scalars(select(Ois).where(Ois.company_edrpou == edrpou)).one()
        assert (ois.state, ois.submission_count) == (OisState.IN_REVIEW, 1)
        ois_id = ois.id

    # Who reads it: the operator and institute staff; not a director, not another company's operator.
    code, mine = aikom("ois", "applications", "--as", str(operator))
    assert code == 0 and [c["system_name"] for c in mine] == ["Журнал CLI"]
    code, listed = aikom("ois", "applications", "--as", str(admin_id))
    assert code == 0 and ois_id in [c["id"] for c in listed]
    for outsider in (director_id, stranger_id):
        code, refused = aikom("ois", "show", str(ois_id), "--as", str(outsider))
        assert code == 1 and refused["error"] == "role_not_allowed", refused
    code, refused = aikom("ois", "applications", "--as", str(director_id))
    assert code == 1 and "оператор цієї ОІС і працівники ІОА" in refused["message"]

    # The applicant's own company never reviews it; the review waits for its step (the run has not started).
    out = tmp_path / "review.json"
    code, refused = aikom("ois", "review-document", str(ois_id), "--as", str(operator), "--out", str(out))
    assert code == 1 and refused["error"] == "ois_reviewer_own_company"
    code, refused = aikom("ois", "review-document", str(ois_id), "--as", str(admin_id), "--out", str(out))
    assert code == 1 and "зараз не очікує перевірки відповідності" in refused["message"]
    code, refused = aikom("ois", "conclusion", "999999", "--as", str(operator), "--out", str(out))
    assert code == 1 and refused["error"] == "not_found"
