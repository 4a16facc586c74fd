"""`aikom kep …`: sign and verify detached CMS signatures (КЕП)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from asn1crypto import pem
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from aikom.cli.output import emit, fail
from aikom.core import pki
from aikom.core.errors import DomainError
from aikom.core.kep import Identity, Purpose, TrustList, TrustListUnavailable, verify_detached
from aikom.settings import get_settings

app = typer.Typer(help="КЕП: підпис і перевірка", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Звіт у JSON")]


def _refuse(message: str, code: str, json_output: bool) -> NoReturn:
    fail(message, code, json_output)
    raise typer.Exit(1)  # not reached: fail() exits; this tells the type checker so


@app.command("sign", help="Підписати файл відокремленим підписом CMS (.p7s) демо-ключем.")
def sign(
    key_path: Annotated[Path, typer.Option("--key", help="Закритий ключ (PEM, без пароля)")],
    cert_path: Annotated[Path, typer.Option("--cert", help="Сертифікат підписувача (PEM)")],
    input_path: Annotated[Path, typer.Option("--in", help="Файл, який підписати")],
    out: Annotated[Path, typer.Option("--out", help="Куди записати підпис (.p7s)")],
    as_pem: Annotated[bool, typer.Option("--pem", help="Записати підпис у PEM замість DER")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Sign a file with a detached CMS signature, as a person's signing app does (demo keys)."""
    key_data = _read(key_path, "ключа", json_output)
    cert_data = _read(cert_path, "сертифіката", json_output)
    content = _read(input_path, "даних", json_output)
    try:
        key = serialization.load_pem_private_key(key_data, password=None)
        certificate = x509.load_pem_x509_certificate(cert_data)
    except (ValueError, TypeError):
        _refuse(
            "Ключ або сертифікат пошкоджений чи має не той формат (потрібен PEM без пароля).",
            "bad_key",
            json_output,
        )
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        _refuse("Підтримуються лише ключі ECDSA та RSA.", "unsupported_key", json_output)
    try:
        signature = pki.sign_detached(key, certificate, content)
    except DomainError as error:
        _refuse(error.message_uk, error.code, json_output)
    data = pem.armor("PKCS7", signature) if as_pem else signature
    try:
        out.write_bytes(data)
    except OSError as error:
        _refuse(f"Не вдалося записати підпис у {out}: {error.strerror}", "write_failed", json_output)
    emit({"ok": True, "signature": str(out), "bytes": len(data)}, json_output, f"Підпис записано у {out}")


@app.command("verify", help="Перевірити підпис КЕП: код виходу 0 — дійсний, 1 — ні.")
def verify(
    signature_path: Annotated[
        Path, typer.Option("--signature", help="Файл підпису (.p7s: DER, PEM або base64)")
    ],
    content_path: Annotated[Path, typer.Option("--content", help="Підписані дані")],
    trust_dir: Annotated[
        Path | None, typer.Option("--trust", help="Тека довірених надавачів і їхніх CRL")
    ] = None,
    purpose: Annotated[
        Purpose, typer.Option("--purpose", help="Для чого підпис: sign-in або decision")
    ] = Purpose.SIGN_IN,
    json_output: JsonFlag = False,
) -> None:
    """Verify a detached signature: exit code 0 when valid, 1 otherwise."""
    settings = get_settings()
    try:
        trust = TrustList.load(trust_dir if trust_dir is not None else settings.effective_trust_dir)
    except TrustListUnavailable as error:
        _refuse(error.message_uk, error.code, json_output)
    max_bytes = settings.max_signature_bytes
    # Read one byte past the limit so an oversized file is reported as such, not loaded whole.
    signature = _read(signature_path, "підпису", json_output, limit=max_bytes + 1)
    content = _read(content_path, "даних", json_output)
    result = verify_detached(signature, content, trust=trust, purpose=purpose, max_bytes=max_bytes)
    if result.ok:
        emit(result.to_dict(), json_output, f"{result.message_uk} {_describe(result.identity)}".strip())
        return
    who = f" Підписувач: {_describe(result.identity)}" if result.identity else ""
    emit(result.to_dict(), json_output, f"Підпис не прийнято: {result.message_uk}{who}")
    raise typer.Exit(1)


@app.command(
    "check-cert",
    help="Перевірити сертифікат КЕП (DER або PEM), як його перевірив би вхід до АІКОМ: довірений надавач, "
    "ланцюжок, CRL, строк чинності, використання ключа; код виходу 0 — прийнято, 1 — ні.",
)
def check_cert(
    cert_path: Annotated[Path, typer.Argument(help="Файл сертифіката (.cer, .crt, .der, .pem)")],
    trust_dir: Annotated[
        Path | None, typer.Option("--trust", help="Тека довірених надавачів і їхніх CRL")
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Check a certificate as the sign-in would; the РНОКПП it carries is shown masked."""
    from aikom.core.kep.certificate import MAX_CERTIFICATE_BYTES, verify_certificate
    from aikom.core.timefmt import format_kyiv
    from aikom.services.kep_currency import certificate_report

    settings = get_settings()
    try:
        trust = TrustList.load(trust_dir if trust_dir is not None else settings.effective_trust_dir)
    except TrustListUnavailable as error:
        _refuse(error.message_uk, error.code, json_output)
    data = _read(cert_path, "сертифіката", json_output, limit=MAX_CERTIFICATE_BYTES + 1)
    report = certificate_report(verify_certificate(data, trust=trust, purpose=Purpose.SIGN_IN))
    lines = ["КЕП буде прийнято для входу." if report.accepted else "КЕП не буде прийнято для входу:"]
    lines += [f"  – {reason}" for reason in report.reasons]
    if report.valid_until is not None:
        lines.append(
            f"Власник: {report.subject_name or '—'}; надавач: {report.issuer or '—'}; серійний номер: "
            f"{report.serial}; ЄДРПОУ: {report.edrpou or '—'}; РНОКПП: {report.rnokpp_masked or '—'}; "
            f"чинний з {format_kyiv(report.valid_from)} до {format_kyiv(report.valid_until)} "
            f"(залишилося днів: {report.days_left})"
        )
    emit(report.model_dump(mode="json"), json_output, "\n".join(lines))
    if not report.accepted:
        raise typer.Exit(1)


def _describe(identity: Identity | None) -> str:
    if identity is None:
        return ""
    parts = [identity.common_name, identity.title, identity.organization]
    text = ", ".join(part for part in parts if part)
    if identity.edrpou:
        text += f" (ЄДРПОУ {identity.edrpou})"
    return text


def _read(path: Path, what: str, json_output: bool, *, limit: int = -1) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(limit)
    except OSError:
        _refuse(f"Не вдалося прочитати файл {what}: {path}", "file_unreadable", json_output)
