"""Demo PKI for local work and tests: a root CA, a qualified CA, their CRLs and persons' КЕП certificates.

Never used in production: keys are stored unencrypted. Layout of a PKI folder:
`root/` and `qualified/` (key.pem, cert.pem, state.json with the CRL number and revoked serials) and
`trust/` (both CA certificates and their CRLs: the folder a `TrustList` loads).
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeAlias

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID
from stdnum.ua import edrpou as edrpou_number
from stdnum.ua import rntrc as rnokpp_number

from aikom.core.errors import DomainError, ValidationFailed
from aikom.core.kep.identity import SUBJECT_DIRECTORY_ATTRIBUTES_OID, encode_subject_directory_attributes

CRL_VALIDITY = timedelta(days=7)
PERSON_VALIDITY = timedelta(days=365)
DEFAULT_ORGANIZATION = "Демонстраційний заклад освіти"
_ROOT_VALIDITY = timedelta(days=3650)
_QUALIFIED_VALIDITY = timedelta(days=1825)
_BACKDATE = timedelta(minutes=5)
# RFC 5280 ub-common-name: 64 characters.
_MAX_COMMON_NAME_CHARS = 64

PersonKey: TypeAlias = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class CaName(StrEnum):
    """The two CAs of the demo PKI."""

    ROOT = "root"
    QUALIFIED = "qualified"


class KeyType(StrEnum):
    """Key types a demo person can get."""

    ECDSA_P256 = "ecdsa-p256"
    RSA_2048 = "rsa-2048"


_CA_NAMES = {
    CaName.ROOT: "АІКОМ Демо ЦЗО",
    CaName.QUALIFIED: "АІКОМ Демо КНЕДП",
}


class PkiAlreadyInitialised(DomainError):
    """`init` would overwrite an existing PKI."""

    code = "pki_exists"

    def __init__(self, directory: Path) -> None:
        super().__init__(f"Демо-PKI у теці {directory} уже існує.", directory=str(directory))
        self.directory = directory


class PkiNotInitialised(DomainError):
    """The folder holds no demo PKI."""

    code = "pki_missing"

    def __init__(self, directory: Path) -> None:
        super().__init__(
            f"У теці {directory} немає демо-PKI. Створіть її: aikom pki init {directory}",
            directory=str(directory),
        )
        self.directory = directory


class NotIssuedByPki(DomainError):
    """The certificate was not issued by either CA of this PKI."""

    code = "not_issued_by_pki"

    def __init__(self, directory: Path) -> None:
        super().__init__(f"Сертифікат видано не демо-PKI з теки {directory}.", directory=str(directory))
        self.directory = directory


class KeyCertificateMismatch(DomainError):
    """The private key does not belong to the certificate it is to sign with."""

    code = "key_mismatch"

    def __init__(self) -> None:
        super().__init__("Закритий ключ не відповідає сертифікату.")


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA of the demo PKI with its signing key."""

    name: CaName
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


@dataclass(frozen=True)
class IssuedPerson:
    """A person's key and certificate, as a signing app would hold them."""

    key: PersonKey
    certificate: x509.Certificate

    def write(self, prefix: Path) -> tuple[Path, Path]:
        """Write PREFIX.key.pem (mode 0600) and PREFIX.cert.pem; return both paths."""
        key_path = prefix.with_name(prefix.name + ".key.pem")
        cert_path = prefix.with_name(prefix.name + ".cert.pem")
        _write_private(key_path, _key_pem(self.key))
        cert_path.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))
        return key_path, cert_path


def trust_dir(directory: Path) -> Path:
    """The folder with the CA certificates and CRLs (what a `TrustList` loads)."""
    return directory / "trust"


def init(directory: Path, *, now: datetime | None = None, crl_validity: timedelta = CRL_VALIDITY) -> Path:
    """Create the root CA, the qualified CA and an empty CRL for each; return the trust folder."""
    if (directory / CaName.ROOT / "cert.pem").exists():
        raise PkiAlreadyInitialised(directory)
    now = now or datetime.now(UTC)
    root_key = ec.generate_private_key(ec.SECP384R1())
    root_name = _ca_subject(CaName.ROOT)
    root_cert = _ca_builder(
        root_name, root_name, root_key, root_key, now, _ROOT_VALIDITY, path_length=1
    ).sign(root_key, hashes.SHA384())
    qualified_key = ec.generate_private_key(ec.SECP256R1())
    qualified_cert = _ca_builder(
        _ca_subject(CaName.QUALIFIED),
        root_name,
        qualified_key,
        root_key,
        now,
        _QUALIFIED_VALIDITY,
        path_length=0,
    ).sign(root_key, hashes.SHA384())
    trust_dir(directory).mkdir(parents=True, exist_ok=True)
    for ca in (
        CertificateAuthority(CaName.ROOT, root_key, root_cert),
        CertificateAuthority(CaName.QUALIFIED, qualified_key, qualified_cert),
    ):
        folder = directory / ca.name
        folder.mkdir(parents=True, exist_ok=True)
        _write_private(folder / "key.pem", _key_pem(ca.key))
        pem = ca.certificate.public_bytes(serialization.Encoding.PEM)
        (folder / "cert.pem").write_bytes(pem)
        (trust_dir(directory) / f"{ca.name}.cert.pem").write_bytes(pem)
        _write_state(directory, ca.name, {"crl_number": 0, "revoked": []})
        _publish_crl(directory, ca, now=now, crl_validity=crl_validity)
    return trust_dir(directory)


def load_ca(directory: Path, name: CaName) -> CertificateAuthority:
    """Read one CA (key and certificate) of the demo PKI."""
    folder = directory / name
    try:
        key = serialization.load_pem_private_key((folder / "key.pem").read_bytes(), password=None)
        cert = x509.load_pem_x509_certificate((folder / "cert.pem").read_bytes())
    except FileNotFoundError as error:
        raise PkiNotInitialised(directory) from error
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiNotInitialised(directory)
    return CertificateAuthority(name, key, cert)


def issue_person(
    directory: Path,
    *,
    name: str,
    edrpou: str,
    rnokpp: str,
    title: str,
    organization: str = DEFAULT_ORGANIZATION,
    key_type: KeyType = KeyType.ECDSA_P256,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    non_repudiation: bool = True,
) -> IssuedPerson:
    """Issue a person's КЕП certificate from the qualified CA, with ЄДРПОУ and РНОКПП in
    subjectDirectoryAttributes and key usage digitalSignature (+ nonRepudiation)."""
    if not edrpou_number.is_valid(edrpou):
        raise ValidationFailed("edrpou", "ЄДРПОУ має складатися з 8 цифр і мати правильну контрольну цифру.")
    if not rnokpp_number.is_valid(rnokpp):
        raise ValidationFailed("rnokpp", "РНОКПП має складатися з 10 цифр і мати правильну контрольну цифру.")
    name = name.strip()
    if not 0 < len(name) <= _MAX_COMMON_NAME_CHARS:
        raise ValidationFailed("name", "ПІБ має бути непорожнім і не довшим за 64 символи.")
    ca = load_ca(directory, CaName.QUALIFIED)
    key: PersonKey = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if key_type is KeyType.RSA_2048
        else ec.generate_private_key(ec.SECP256R1())
    )
    start = not_before or datetime.now(UTC) - _BACKDATE
    end = not_after or start + PERSON_VALIDITY
    surname, _, given_name = name.partition(" ")
    attributes = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "UA"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        x509.NameAttribute(NameOID.TITLE, title),
        _common_name(name),
        x509.NameAttribute(NameOID.SURNAME, surname),
        *([x509.NameAttribute(NameOID.GIVEN_NAME, given_name)] if given_name else []),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, f"TINUA-{rnokpp}"),
    ]
    directory_attributes = encode_subject_directory_attributes(edrpou=edrpou, rnokpp=rnokpp)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attributes))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, non_repudiation=non_repudiation), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
        .add_extension(
            x509.UnrecognizedExtension(
                x509.ObjectIdentifier(SUBJECT_DIRECTORY_ATTRIBUTES_OID), directory_attributes
            ),
            critical=False,
        )
        .sign(ca.key, hashes.SHA256())
    )
    return IssuedPerson(key, certificate)


def issuing_ca(directory: Path, certificate: x509.Certificate) -> CaName:
    """Which CA of the PKI issued `certificate` (checked by signature, not only by name)."""
    for name in CaName:
        ca = load_ca(directory, name)
        try:
            certificate.verify_directly_issued_by(ca.certificate)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return name
    raise NotIssuedByPki(directory)


def revoke(
    directory: Path,
    serial: int,
    *,
    ca: CaName = CaName.QUALIFIED,
    at: datetime | None = None,
    crl_validity: timedelta = CRL_VALIDITY,
) -> Path:
    """Add `serial` to the CA's revoked list (idempotent) and publish a new CRL; return its path."""
    authority = load_ca(directory, ca)
    state = _read_state(directory, ca)
    revoked_at = at or datetime.now(UTC)
    if all(int(entry["serial"]) != serial for entry in state["revoked"]):
        state["revoked"].append({"serial": str(serial), "revoked_at": revoked_at.isoformat()})
        _write_state(directory, ca, state)
    return _publish_crl(directory, authority, now=datetime.now(UTC), crl_validity=crl_validity)


def refresh_crls(
    directory: Path, *, now: datetime | None = None, crl_validity: timedelta = CRL_VALIDITY
) -> list[Path]:
    """Publish a new CRL for each CA (thisUpdate `now`, nextUpdate `now + crl_validity`)."""
    moment = now or datetime.now(UTC)
    return [
        _publish_crl(directory, load_ca(directory, name), now=moment, crl_validity=crl_validity)
        for name in CaName
    ]


def sign_detached(
    key: PersonKey,
    certificate: x509.Certificate,
    content: bytes,
    *,
    detached: bool = True,
    hash_algorithm: hashes.SHA256 | hashes.SHA384 | hashes.SHA512 | None = None,
    rsa_pss: bool = False,
) -> bytes:
    """Sign `content` as a person's signing app does: CMS SignedData (DER), detached by default."""
    try:
        certified_key = certificate.public_key()
    except (ValueError, UnsupportedAlgorithm) as error:
        raise KeyCertificateMismatch() from error
    if _public_der(key.public_key()) != _public_der(certified_key):
        raise KeyCertificateMismatch()
    algorithm = hash_algorithm or hashes.SHA256()
    rsa_padding: padding.PSS | None = None
    if rsa_pss:
        rsa_padding = padding.PSS(mgf=padding.MGF1(algorithm), salt_length=padding.PSS.DIGEST_LENGTH)
    options = [pkcs7.PKCS7Options.Binary]
    if detached:
        options.append(pkcs7.PKCS7Options.DetachedSignature)
    return (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(content)
        .add_signer(certificate, key, algorithm, rsa_padding=rsa_padding)
        .sign(serialization.Encoding.DER, options)
    )


def _ca_subject(name: CaName) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "UA"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "АІКОМ (демонстраційна PKI)"),
            x509.NameAttribute(NameOID.COMMON_NAME, _CA_NAMES[name]),
        ]
    )


def _ca_builder(
    subject: x509.Name,
    issuer: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer_key: ec.EllipticCurvePrivateKey,
    now: datetime,
    validity: timedelta,
    *,
    path_length: int,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    )


def _common_name(name: str) -> x509.NameAttribute:
    """commonName of up to 64 characters. cryptography counts UTF-8 bytes instead (a Cyrillic ПІБ of 33+
    letters would fail), so its check is relaxed to the RFC's character count."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return x509.NameAttribute(NameOID.COMMON_NAME, name, _validate=False)


def _key_usage(*, digital_signature: bool, non_repudiation: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=non_repudiation,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _publish_crl(
    directory: Path, ca: CertificateAuthority, *, now: datetime, crl_validity: timedelta
) -> Path:
    """Sign the CA's current CRL (next CRL number) and write it to the trust folder as DER."""
    state = _read_state(directory, ca.name)
    state["crl_number"] += 1
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(now)
        .next_update(now + crl_validity)
        .add_extension(x509.CRLNumber(state["crl_number"]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
    )
    for entry in state["revoked"]:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(int(entry["serial"]))
            .revocation_date(datetime.fromisoformat(entry["revoked_at"]))
            .build()
        )
    crl = builder.sign(ca.key, hashes.SHA256())
    path = trust_dir(directory) / f"{ca.name}.crl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(crl.public_bytes(serialization.Encoding.DER))
    _write_state(directory, ca.name, state)
    return path


def _read_state(directory: Path, name: CaName) -> dict[str, Any]:
    try:
        return json.loads((directory / name / "state.json").read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise PkiNotInitialised(directory) from error


def _write_state(directory: Path, name: CaName, state: dict[str, Any]) -> None:
    (directory / name / "state.json").write_text(json.dumps(state, indent=2), encoding="utf-8")


def _public_der(key: object) -> bytes:
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        return b""
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _key_pem(key: PersonKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_private(path: Path, data: bytes) -> None:
    """Write a private key readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
