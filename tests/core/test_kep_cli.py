"""`aikom kep sign` and `aikom kep verify`: JSON output and exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aikom.cli.main import app
from aikom.core import pki
from aikom.settings import get_settings

runner = CliRunner()
CONTENT = "Виклик для входу: 4b1d".encode()


@pytest.fixture
def files(tmp_path: Path, person: Callable[..., pki.IssuedPerson]) -> dict[str, Path]:
    """A person's key and certificate on disk and a file to sign."""
    key_path, cert_path = person().write(tmp_path / "taras")
    content_path = tmp_path / "challenge.txt"
    content_path.write_bytes(CONTENT)
    return {"key": key_path, "cert": cert_path, "content": content_path, "dir": tmp_path}


def sign(files: dict[str, Path], *extra: str) -> Path:
    out = files["dir"] / "challenge.txt.p7s"
    result = runner.invoke(
        app,
        ["kep", "sign", "--key", str(files["key"]), "--cert", str(files["cert"]),
         "--in", str(files["content"]), "--out", str(out), *extra],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def verify(signature: Path, content: Path, trust: Path, *extra: str) -> tuple[int, dict[str, object]]:
    result = runner.invoke(
        app,
        ["kep", "verify", "--signature", str(signature), "--content", str(content),
         "--trust", str(trust), "--json", *extra],
    )  # fmt: skip
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.parametrize("extra", [(), ("--pem",)], ids=["der", "pem"])
def test_sign_then_verify_prints_identity(
    files: dict[str, Path], pki_dir: Path, extra: tuple[str, ...]
) -> None:
    signature = sign(files, *extra)
    assert signature.read_bytes().startswith(b"-----BEGIN PKCS7-----" if extra else b"\x30")

    code, report = verify(signature, files["content"], pki.trust_dir(pki_dir), "--purpose", "decision")

    assert code == 0
    assert report["ok"] is True and report["reason"] is None
    assert report["message"] == "Підпис дійсний."
    identity = report["identity"]
    assert isinstance(identity, dict)
    assert identity["edrpou"] == "12345678" and identity["rnokpp"] == "1234567899"
    assert identity["common_name"] == "Шевченко Тарас Григорович"


def test_verify_refusal_exits_1_with_reason(files: dict[str, Path], pki_dir: Path) -> None:
    signature = sign(files)
    other = files["dir"] / "other.txt"
    other.write_bytes(b"other")

    code, report = verify(signature, other, pki.trust_dir(pki_dir))

    assert code == 1
    assert report == {**report, "ok": False, "reason": "content_mismatch"}
    assert "інші дані" in str(report["message"])


def test_verify_revoked_in_human_mode(files: dict[str, Path], pki_dir: Path) -> None:
    signature = sign(files)
    revoked = runner.invoke(app, ["pki", "revoke", "--dir", str(pki_dir), "--cert", str(files["cert"])])
    assert revoked.exit_code == 0

    result = runner.invoke(
        app,
        ["kep", "verify", "--signature", str(signature), "--content", str(files["content"]),
         "--trust", str(pki.trust_dir(pki_dir))],
    )  # fmt: skip

    assert result.exit_code == 1
    assert "Підпис не прийнято: Сертифікат скасовано" in result.stdout
    assert "Traceback" not in result.output


def test_verify_malformed_and_oversized_files(files: dict[str, Path], pki_dir: Path) -> None:
    garbage = files["dir"] / "garbage.p7s"
    garbage.write_bytes(b"\x00\x01 definitely not CMS")
    huge = files["dir"] / "huge.p7s"
    huge.write_bytes(b"\x30" * (get_settings().max_signature_bytes + 10))

    assert verify(garbage, files["content"], pki.trust_dir(pki_dir))[1]["reason"] == "malformed"
    code, report = verify(huge, files["content"], pki.trust_dir(pki_dir))
    assert code == 1 and report["reason"] == "too_large"


def test_verify_missing_files_and_trust_folder(files: dict[str, Path], pki_dir: Path) -> None:
    signature = sign(files)

    code, report = verify(files["dir"] / "absent.p7s", files["content"], pki.trust_dir(pki_dir))
    assert code == 1 and report["error"] == "file_unreadable"

    code, report = verify(signature, files["content"], files["dir"] / "no-trust")
    assert code == 1 and report["error"] == "trust_list_unavailable"


@pytest.fixture
def trust_dir_setting(monkeypatch: pytest.MonkeyPatch, pki_dir: Path) -> Iterator[None]:
    monkeypatch.setenv("AIKOM_TRUST_DIR", str(pki.trust_dir(pki_dir)))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("trust_dir_setting")
def test_verify_uses_the_configured_trust_folder_by_default(files: dict[str, Path]) -> None:
    signature = sign(files)

    result = runner.invoke(
        app, ["kep", "verify", "--signature", str(signature), "--content", str(files["content"]), "--json"]
    )

    assert result.exit_code == 0, result.stdout
    assert json.loads(result.stdout)["ok"] is True


def test_sign_with_a_key_of_another_certificate_is_refused(
    files: dict[str, Path], person: Callable[..., pki.IssuedPerson]
) -> None:
    other_key, _ = person().write(files["dir"] / "other")

    result = runner.invoke(
        app,
        ["kep", "sign", "--key", str(other_key), "--cert", str(files["cert"]), "--in", str(files["content"]),
         "--out", str(files["dir"] / "x.p7s"), "--json"],
    )  # fmt: skip

    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"] == "key_mismatch"
