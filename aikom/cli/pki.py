"""`aikom pki …`: the demo PKI (root, qualified CA, CRL, persons' certificates)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from cryptography import x509

from aikom.cli.output import emit, fail
from aikom.core import pki
from aikom.core.errors import DomainError
from aikom.settings import get_settings

app = typer.Typer(help="Демонстраційна PKI (лише для локальної роботи й тестів)", no_args_is_help=True)

_DIR_HELP = "Тека демо-PKI (типово — з налаштувань)"
JsonFlag = Annotated[bool, typer.Option("--json", help="Звіт у JSON")]
PkiDir = Annotated[Path | None, typer.Option("--dir", help=_DIR_HELP)]


def _refuse(message: str, code: str, json_output: bool) -> NoReturn:
    fail(message, code, json_output)
    raise typer.Exit(1)  # not reached: fail() exits; this tells the type checker so


def _pki_dir(directory: Path | None) -> Path:
    return directory if directory is not None else get_settings().pki_dir


@app.command("init", help="Створити кореневий ЦЗО, кваліфікований КНЕДП і їхні CRL.")
def init(
    directory: Annotated[Path | None, typer.Argument(help=_DIR_HELP)] = None,
    json_output: JsonFlag = False,
) -> None:
    """Create the root CA, the qualified CA and their CRLs."""
    folder = _pki_dir(directory)
    try:
        trust = pki.init(folder)
    except DomainError as error:
        _refuse(error.message_uk, error.code, json_output)
    except OSError as error:
        _refuse(f"Не вдалося створити демо-PKI в {folder}: {error.strerror}", "write_failed", json_output)
    emit(
        {"ok": True, "directory": str(folder), "trust_dir": str(trust)},
        json_output,
        f"Демо-PKI створено в {folder}; список довірених надавачів: {trust}",
    )


@app.command("issue", help="Видати особі сертифікат КЕП (ЄДРПОУ і РНОКПП у сертифікаті).")
def issue(
    name: Annotated[str, typer.Option("--name", help="ПІБ: «Прізвище Ім'я По батькові»")],
    edrpou: Annotated[str, typer.Option("--edrpou", help="ЄДРПОУ організації (8 цифр)")],
    rnokpp: Annotated[str, typer.Option("--rnokpp", help="РНОКПП особи (10 цифр)")],
    title: Annotated[str, typer.Option("--title", help="Посада")],
    out: Annotated[Path, typer.Option("--out", help="Префікс файлів: ПРЕФІКС.key.pem і ПРЕФІКС.cert.pem")],
    organization: Annotated[str, typer.Option("--org", help="Організація")] = pki.DEFAULT_ORGANIZATION,
    use_rsa: Annotated[bool, typer.Option("--rsa", help="Ключ RSA-2048 замість ECDSA P-256")] = False,
    days: Annotated[int, typer.Option("--days", min=1, help="Строк чинності сертифіката, днів")] = 365,
    directory: PkiDir = None,
    json_output: JsonFlag = False,
) -> None:
    """Issue a person's КЕП certificate (ЄДРПОУ and РНОКПП in subjectDirectoryAttributes)."""
    start = datetime.now(UTC) - timedelta(minutes=5)
    try:
        person = pki.issue_person(
            _pki_dir(directory),
            name=name,
            edrpou=edrpou,
            rnokpp=rnokpp,
            title=title,
            organization=organization,
            key_type=pki.KeyType.RSA_2048 if use_rsa else pki.KeyType.ECDSA_P256,
            not_before=start,
            not_after=start + timedelta(days=days),
        )
        key_path, cert_path = person.write(out)
    except DomainError as error:
        _refuse(error.message_uk, error.code, json_output)
    except OSError as error:
        _refuse(f"Не вдалося записати файли {out}.*: {error.strerror}", "write_failed", json_output)
    serial = format(person.certificate.serial_number, "X")
    emit(
        {"ok": True, "key": str(key_path), "certificate": str(cert_path), "serial": serial},
        json_output,
        f"Сертифікат {serial} для «{name}»: {cert_path}; ключ: {key_path}",
    )


@app.command("revoke", help="Скасувати сертифікат і опублікувати новий CRL.")
def revoke(
    cert: Annotated[Path, typer.Option("--cert", help="Сертифікат, який скасувати (PEM або DER)")],
    directory: PkiDir = None,
    json_output: JsonFlag = False,
) -> None:
    """Revoke a certificate issued by the demo PKI and publish the new CRL."""
    folder = _pki_dir(directory)
    certificate = _read_certificate(cert, json_output)
    try:
        ca = pki.issuing_ca(folder, certificate)
        crl_path = pki.revoke(folder, certificate.serial_number, ca=ca)
    except DomainError as error:
        _refuse(error.message_uk, error.code, json_output)
    serial = format(certificate.serial_number, "X")
    emit(
        {"ok": True, "serial": serial, "ca": ca.value, "crl": str(crl_path)},
        json_output,
        f"Сертифікат {serial} скасовано; новий CRL: {crl_path}",
    )


@app.command("crl", help="Опублікувати свіжі CRL обох надавачів.")
def crl(
    days: Annotated[int, typer.Option("--days", min=1, help="Через скільки днів CRL застаріє")] = 7,
    directory: PkiDir = None,
    json_output: JsonFlag = False,
) -> None:
    """Publish fresh CRLs for both CAs."""
    try:
        paths = pki.refresh_crls(_pki_dir(directory), crl_validity=timedelta(days=days))
    except DomainError as error:
        _refuse(error.message_uk, error.code, json_output)
    emit(
        {"ok": True, "crls": [str(path) for path in paths]},
        json_output,
        "Оновлено CRL: " + ", ".join(str(path) for path in paths),
    )


def _read_certificate(path: Path, json_output: bool) -> x509.Certificate:
    try:
        data = path.read_bytes()
    except OSError:
        _refuse(f"Не вдалося прочитати файл сертифіката {path}.", "file_unreadable", json_output)
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        _refuse(f"Файл {path} не є сертифікатом X.509.", "bad_certificate", json_output)
