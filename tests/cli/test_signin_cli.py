"""`aikom signin challenge|complete`: what a person sees of a certificate never holds a full РНОКПП."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from aikom.db import unit_of_work
from aikom.models import PersonRole, PersonState
from tests import factories as f
from tests.cli.conftest import Aikom
from tests.signing import SigningPki, sign


def test_signin_complete_shows_the_rnokpp_masked(
    aikom: Aikom, signing_pki: SigningPki, tmp_path: Path
) -> None:
    rnokpp = f.rnokpp()
    with unit_of_work(None) as s:
        units = f.cascade(s, with_edrpou=True)
        person = f.person(
            s, f.account(s, units["hromada"]), role=PersonRole.HROMADA_ADMIN, state=PersonState.PENDING,
            rnokpp=rnokpp,
        )  # fmt: skip
        person_id, name, edrpou = person.id, person.full_name, units["hromada"].edrpou
    assert edrpou is not None
    holder = signing_pki.issue(name=name, edrpou=edrpou, rnokpp=rnokpp)

    def signed_challenge(label: str) -> tuple[str, Path]:
        challenge_file = tmp_path / f"{label}.txt"
        code, challenge = aikom("signin", "challenge", "--out", str(challenge_file))
        assert code == 0
        signature = tmp_path / f"{label}.p7s"
        signature.write_bytes(sign(holder, challenge_file.read_bytes()))
        return challenge["nonce"], signature

    nonce, signature = signed_challenge("first")
    code, signed_in = aikom("signin", "complete", "--nonce", nonce, "--signature", str(signature))

    assert code == 0, signed_in
    assert signed_in["person_id"] == person_id and signed_in["activated"] is True
    masked = f"{rnokpp[:2]}******{rnokpp[-2:]}"
    assert signed_in["identity"]["rnokpp"] == masked
    assert signed_in["identity"]["subject_serial"] == f"TINUA-{masked}"
    assert signed_in["identity"]["edrpou"] == edrpou
    assert rnokpp not in str(signed_in)

    # The human-readable line says nothing of it either.
    from aikom.cli.main import app

    nonce, signature = signed_challenge("second")
    result = CliRunner().invoke(app, ["signin", "complete", "--nonce", nonce, "--signature", str(signature)])
    assert result.exit_code == 0 and rnokpp not in result.output
    assert f"особа № {person_id}" in result.output

    # A refusal that names the certificate (nobody has its РНОКПП) masks it as well.
    stranger = f.rnokpp()
    holder = signing_pki.issue(name="Невідома Особа", edrpou=edrpou, rnokpp=stranger)
    nonce, signature = signed_challenge("stranger")
    code, refused = aikom("signin", "complete", "--nonce", nonce, "--signature", str(signature))
    assert code == 1 and refused["reason"] == "unknown_person"
    assert refused["identity"]["rnokpp"] == f"{stranger[:2]}******{stranger[-2:]}"
    assert stranger not in str(refused)
