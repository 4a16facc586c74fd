"""The trust list (qualified CAs and their CRLs) and certificate path validation against it."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from asn1crypto import cms, crl, pem, x509
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    DisallowedAlgorithmError,
    ExpiredError,
    InsufficientRevinfoError,
    InvalidCertificateError,
    NotYetValidError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
    StaleRevinfoError,
    ValidationError,
)
from pyhanko_certvalidator.validate import validate_usage

from aikom.core.errors import DomainError
from aikom.core.kep.cms import PARSE_ERRORS
from aikom.core.kep.reasons import KEY_USAGE_MESSAGES_UK, Purpose, ReasonCode, Refusal

logger = logging.getLogger(__name__)

TRUST_FILE_SUFFIXES = frozenset({".pem", ".crt", ".cer", ".der", ".crl", ".p7b"})
_PEM_CERT_LABELS = frozenset({"CERTIFICATE", "X509 CERTIFICATE"})
_PEM_CRL_LABELS = frozenset({"X509 CRL"})
_PEM_CMS_LABELS = frozenset({"PKCS7", "CMS"})

_Parsed = TypeVar("_Parsed", x509.Certificate, crl.CertificateList, cms.ContentInfo)


class TrustListUnavailable(DomainError):
    """The trust list folder is missing or one of its files cannot be read."""

    code = "trust_list_unavailable"

    def __init__(self, path: Path, detail: str = "") -> None:
        message = f"Список довірених надавачів недоступний: {path}"
        super().__init__(message + (f" ({detail})" if detail else ""), path=str(path))
        self.path = path


@dataclass(frozen=True)
class TrustList:
    """Trusted qualified CA certificates and their CRLs.

    Self-signed CA certificates (e.g. the central certification body) are the trust anchors; every
    other CA certificate is an intermediate whose own revocation is checked against its issuer's CRL.
    The list must therefore hold each chain up to its root (as the published CACertificates.p7b does):
    a CA whose root is missing validates nothing (its signers are refused as unknown_ca).
    """

    anchors: tuple[x509.Certificate, ...]
    intermediates: tuple[x509.Certificate, ...]
    crls: tuple[crl.CertificateList, ...]

    @classmethod
    def load(cls, directory: Path) -> TrustList:
        """Read every certificate (.pem/.crt/.cer/.der/.p7b) and CRL (.crl/.pem) in `directory`."""
        if not directory.is_dir():
            raise TrustListUnavailable(directory, "теки немає")
        certificates: list[x509.Certificate] = []
        crls: list[crl.CertificateList] = []
        for path in sorted(directory.iterdir()):
            if not path.is_file() or path.suffix.lower() not in TRUST_FILE_SUFFIXES:
                continue
            try:
                file_certs, file_crls = _read_trust_file(path.read_bytes())
            except OSError as error:
                raise TrustListUnavailable(path, "файл не читається") from error
            except PARSE_ERRORS as error:
                raise TrustListUnavailable(path, "файл пошкоджений") from error
            certificates.extend(file_certs)
            crls.extend(file_crls)
        return cls.from_parts(certificates, crls)

    @classmethod
    def from_parts(
        cls, certificates: Iterable[x509.Certificate], crls: Iterable[crl.CertificateList]
    ) -> TrustList:
        """Build a trust list from parsed CA certificates and CRLs (non-CA certificates are ignored)."""
        unique = {cert.sha256: cert for cert in certificates if cert.ca}
        subjects = {cert.subject.hashable for cert in unique.values()}
        anchors: list[x509.Certificate] = []
        intermediates: list[x509.Certificate] = []
        for cert in unique.values():
            if cert.self_issued:
                anchors.append(cert)
                continue
            if cert.issuer.hashable not in subjects:
                # pyhanko-certvalidator cannot check CRLs signed by a non-self-signed anchor, so such a
                # CA is not trusted on its own: its root must be in the list too.
                logger.warning("Trust list: issuer of %s is missing", cert.subject.human_friendly)
            intermediates.append(cert)
        return cls(anchors=tuple(anchors), intermediates=tuple(intermediates), crls=tuple(crls))

    def evidence_for(self, certificate_der: bytes) -> bytes:
        """The validation data of a signer's certificate, to archive with what it signed: the CA
        certificates of its chain and their CRLs as they are now (a PEM bundle)."""
        cas = [*self.anchors, *self.intermediates]
        chain: dict[bytes, x509.Certificate] = {}
        issuers = {x509.Certificate.load(certificate_der).issuer.hashable}
        while issuers:
            found = [ca for ca in cas if ca.subject.hashable in issuers and ca.sha256 not in chain]
            chain.update((ca.sha256, ca) for ca in found)
            issuers = {ca.issuer.hashable for ca in found if not ca.self_issued}
        subjects = {ca.subject.hashable for ca in chain.values()}
        crls = [c for c in self.crls if c["tbs_cert_list"]["issuer"].hashable in subjects]
        parts = [pem.armor("CERTIFICATE", ca.dump()) for ca in chain.values()]
        parts += [pem.armor("X509 CRL", c.dump()) for c in crls]
        return b"".join(parts)

    def with_evidence(self, evidence: bytes) -> TrustList:
        """This trust list plus archived validation data (what `evidence_for` kept): a decision signed
        years ago verifies with the CRLs and CA certificates of its day."""
        certificates, crls = _read_trust_file(evidence) if evidence else ([], [])
        return TrustList.from_parts([*self.anchors, *self.intermediates, *certificates], [*self.crls, *crls])


def _read_trust_file(data: bytes) -> tuple[list[x509.Certificate], list[crl.CertificateList]]:
    certificates: list[x509.Certificate] = []
    crls: list[crl.CertificateList] = []
    if pem.detect(data):
        for label, _headers, der in pem.unarmor(data, multiple=True):
            if label in _PEM_CERT_LABELS:
                certificates.append(_strict(x509.Certificate, der))
            elif label in _PEM_CRL_LABELS:
                crls.append(_strict(crl.CertificateList, der))
            elif label in _PEM_CMS_LABELS:
                certificates.extend(_certificates_in_cms(der))
        return certificates, crls
    content_info = _try_strict(cms.ContentInfo, data)
    if content_info is not None and content_info["content_type"].native == "signed_data":
        return _certificates_in_cms(data), crls
    cert = _try_strict(x509.Certificate, data)
    if cert is not None:
        return [cert], crls
    return certificates, [_strict(crl.CertificateList, data)]


def _certificates_in_cms(der: bytes) -> list[x509.Certificate]:
    """Certificates of a .p7b bundle (the form in which Ukrainian trust lists are published)."""
    signed_data = _strict(cms.ContentInfo, der)["content"]
    return [choice.chosen for choice in signed_data["certificates"] if choice.name == "certificate"]


def _strict(kind: type[_Parsed], der: bytes) -> _Parsed:
    value = kind.load(der, strict=True)
    value.native  # noqa: B018 - force the lazy parser so damage is found at load time
    return value


def _try_strict(kind: type[_Parsed], der: bytes) -> _Parsed | None:
    try:
        return _strict(kind, der)
    except PARSE_ERRORS:
        return None


async def validate_certificate(
    certificate: x509.Certificate,
    *,
    trust: TrustList,
    other_certificates: Iterable[x509.Certificate],
    purpose: Purpose,
    at: datetime | None,
) -> None:
    """Validate the path to a trusted CA at `at` (else now), CRL status of every link, and key usage."""
    context = ValidationContext(
        trust_roots=list(trust.anchors),
        other_certs=[*trust.intermediates, *other_certificates],
        crls=list(trust.crls),
        moment=at,
        # Every certificate below the anchor needs a CRL that covers the moment: fail closed.
        revocation_mode="require",
        # A CRL published after the moment still speaks for it (historical re-verification; clock skew).
        retroactive_revinfo=True,
    )
    validator = CertificateValidator(certificate, validation_context=context)
    try:
        await validator.async_validate_path()
    except ValidationError as error:
        # The library's text may name the holder (and a РНОКПП in the subject): debug level only.
        logger.debug("KEP certificate path refused: %s", error)
        raise Refusal(*_path_refusal(error)) from error
    except PathBuildingError as error:
        logger.debug("KEP certificate path not found: %s", error)
        raise Refusal(ReasonCode.UNKNOWN_CA) from error
    try:
        validate_usage(certificate, set(purpose.required_key_usage), set(), True)
    except InvalidCertificateError as error:
        raise Refusal(ReasonCode.KEY_USAGE, KEY_USAGE_MESSAGES_UK[purpose]) from error


def _path_refusal(error: ValidationError) -> tuple[ReasonCode, str | None]:
    """Map a pyhanko-certvalidator failure to a reason (and a message naming a CA when the CA is at fault)."""
    is_signer = not isinstance(error, PathValidationError) or error.is_ee_cert
    match error:
        case RevokedError():
            reason = ReasonCode.REVOKED
        case StaleRevinfoError():
            reason = ReasonCode.CRL_STALE
        case InsufficientRevinfoError():
            reason = ReasonCode.CRL_MISSING
        case ExpiredError():
            reason = ReasonCode.EXPIRED
        case NotYetValidError():
            reason = ReasonCode.NOT_YET_VALID
        case DisallowedAlgorithmError():
            reason = ReasonCode.UNSUPPORTED_ALGORITHM
        case InvalidCertificateError():
            # e.g. a self-signed signer certificate: no trusted issuer.
            return ReasonCode.UNKNOWN_CA, None
        case _:
            return ReasonCode.CHAIN_INVALID, None
    if is_signer or reason in (ReasonCode.CRL_MISSING, ReasonCode.CRL_STALE):
        return reason, None
    return reason, _CA_MESSAGES_UK.get(reason)


_CA_MESSAGES_UK: dict[ReasonCode, str] = {
    ReasonCode.REVOKED: "Сертифікат надавача (АЦСК), що видав сертифікат підписувача, скасовано.",
    ReasonCode.EXPIRED: "Строк чинності сертифіката надавача (АЦСК) закінчився.",
    ReasonCode.NOT_YET_VALID: "Сертифікат надавача (АЦСК) ще не набрав чинності.",
}
