"""Detached CMS/PKCS#7 SignedData: decode the file, find the signer, check the signature over the content."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime

# Importing tsp registers the signingCertificate(V2) attribute types with asn1crypto's CMS parser.
from asn1crypto import algos, cms, keys, tsp, x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from aikom.core.kep.identity import DSTU_4145_ARC, GOST_34311_OID
from aikom.core.kep.reasons import ReasonCode, Refusal

# Anything asn1crypto may raise while lazily parsing hostile input.
PARSE_ERRORS: tuple[type[Exception], ...] = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    OverflowError,
    AttributeError,
    RecursionError,
)

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)
_MIN_RSA_BITS = 2048
# Signed attributes that must appear once with exactly one value (RFC 5652 §11).
_SINGLE_VALUED = ("content_type", "message_digest", "signing_time")


@dataclass(frozen=True)
class SignedMessage:
    """The parts of a SignedData that verification needs."""

    signer_info: cms.SignerInfo
    signer_certificate: x509.Certificate
    certificates: tuple[x509.Certificate, ...]
    encapsulated_content: bytes | None
    signing_time: datetime | None


def decode_signature_file(data: bytes, *, max_bytes: int) -> bytes:
    """The DER/BER bytes of a signature given as DER, PEM or bare base64."""
    if len(data) > max_bytes:
        raise Refusal(ReasonCode.TOO_LARGE)
    if data[:1] == b"\x30":
        return data
    stripped = data.strip()
    pem = _PEM_BLOCK.search(stripped)
    body = pem.group(2) if pem else stripped
    try:
        der = base64.b64decode(b"".join(body.split()), validate=True)
    except (binascii.Error, ValueError) as error:
        raise Refusal(ReasonCode.MALFORMED) from error
    if not der or der[0] != 0x30:
        raise Refusal(ReasonCode.MALFORMED)
    return der


def parse_signed_message(der: bytes) -> SignedMessage:
    """Parse a ContentInfo holding SignedData with exactly one signer; its certificate must be inside."""
    try:
        content_info = cms.ContentInfo.load(der, strict=True)
        if content_info["content_type"].native != "signed_data":
            raise Refusal(ReasonCode.MALFORMED)
        signed_data = content_info["content"]
        signer_infos = list(signed_data["signer_infos"])
        if len(signer_infos) != 1:
            raise Refusal(ReasonCode.MALFORMED, "Підпис має містити рівно одного підписувача.")
        signer_info = signer_infos[0]
        encap = signed_data["encap_content_info"]
        if encap["content_type"].native != "data":
            raise Refusal(ReasonCode.MALFORMED)
        embedded = encap["content"]
        encapsulated = None if embedded.native is None else bytes(embedded.native)
        certificates = tuple(
            choice.chosen for choice in signed_data["certificates"] if choice.name == "certificate"
        )
        # Parse everything now: damage found later, inside the path validator, would not read as "malformed".
        signer_info.native  # noqa: B018
        for cert in certificates:
            cert.native  # noqa: B018
        signer_certificate = _find_signer_certificate(signer_info["sid"], certificates)
        signing_time = _signing_time(signer_info)
    except PARSE_ERRORS as error:
        raise Refusal(ReasonCode.MALFORMED) from error
    return SignedMessage(
        signer_info=signer_info,
        signer_certificate=signer_certificate,
        certificates=certificates,
        encapsulated_content=encapsulated,
        signing_time=signing_time,
    )


def uses_dstu(message: SignedMessage) -> bool:
    """True when the signer's key or the signature algorithms are DSTU 4145 / GOST 34.311."""
    key_oid = message.signer_certificate["tbs_certificate"]["subject_public_key_info"]["algorithm"][
        "algorithm"
    ].dotted
    signature_oid = message.signer_info["signature_algorithm"]["algorithm"].dotted
    digest_oid = message.signer_info["digest_algorithm"]["algorithm"].dotted
    return (
        key_oid.startswith(DSTU_4145_ARC)
        or signature_oid.startswith(DSTU_4145_ARC)
        or digest_oid == GOST_34311_OID
    )


def check_signature(message: SignedMessage, content: bytes) -> None:
    """Check the signature value, the signed attributes and that the content is the one signed."""
    if message.encapsulated_content is not None and not hmac.compare_digest(
        message.encapsulated_content, content
    ):
        raise Refusal(ReasonCode.CONTENT_MISMATCH)
    signer_info = message.signer_info
    try:
        digest_name = signer_info["digest_algorithm"]["algorithm"].native
        if digest_name not in _HASHES:
            raise Refusal(ReasonCode.UNSUPPORTED_ALGORITHM)
        signed_attrs = signer_info["signed_attrs"]
        has_attrs = len(signed_attrs) > 0
        attributes = _attribute_values(signed_attrs) if has_attrs else {}
        # The signature covers the DER SET OF the attributes, not their [0] IMPLICIT form.
        signed_bytes = b"\x31" + signed_attrs.dump()[1:] if has_attrs else content
        _verify_value(
            message.signer_certificate["tbs_certificate"]["subject_public_key_info"],
            signer_info["signature_algorithm"],
            digest_name,
            bytes(signer_info["signature"].native),
            signed_bytes,
        )
        if has_attrs:
            _check_attributes(attributes, digest_name, content, message.signer_certificate)
    except PARSE_ERRORS as error:
        raise Refusal(ReasonCode.MALFORMED) from error


def _find_signer_certificate(
    sid: cms.SignerIdentifier, certificates: tuple[x509.Certificate, ...]
) -> x509.Certificate:
    for cert in certificates:
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            if cert.serial_number != wanted["serial_number"].native:
                continue
            # Byte equality first: asn1crypto's semantic Name comparison is slow on Cyrillic names.
            if cert.issuer.dump() == wanted["issuer"].dump() or cert.issuer == wanted["issuer"]:
                return cert
        elif sid.name == "subject_key_identifier" and cert.key_identifier == sid.chosen.native:
            return cert
    raise Refusal(ReasonCode.NO_SIGNER_CERTIFICATE)


def _attribute_values(signed_attrs: cms.CMSAttributes) -> dict[str, list[object]]:
    """Signed attributes by name; the single-valued ones must occur once with one value."""
    values: dict[str, list[object]] = {}
    for attribute in signed_attrs:
        name = attribute["type"].native
        if name in values and name in _SINGLE_VALUED:
            raise Refusal(ReasonCode.MALFORMED)
        values.setdefault(name, []).extend(attribute["values"])
    for name in _SINGLE_VALUED:
        if name in values and len(values[name]) != 1:
            raise Refusal(ReasonCode.MALFORMED)
    if "content_type" not in values or "message_digest" not in values:
        raise Refusal(ReasonCode.MALFORMED)
    return values


def _signing_time(signer_info: cms.SignerInfo) -> datetime | None:
    for attribute in signer_info["signed_attrs"]:
        if attribute["type"].native == "signing_time":
            value = attribute["values"][0].native
            return value if isinstance(value, datetime) else None
    return None


def _check_attributes(
    attributes: dict[str, list[object]], digest_name: str, content: bytes, signer: x509.Certificate
) -> None:
    content_type = attributes["content_type"][0]
    if not isinstance(content_type, cms.ContentType) or content_type.native != "data":
        raise Refusal(ReasonCode.MALFORMED)
    digest = attributes["message_digest"][0]
    expected = hashlib.new(digest_name, content).digest()
    if not isinstance(digest, cms.OctetString) or not hmac.compare_digest(bytes(digest.native), expected):
        raise Refusal(ReasonCode.CONTENT_MISMATCH)
    for value in attributes.get("signing_certificate_v2", []):
        if not isinstance(value, tsp.SigningCertificateV2):
            raise Refusal(ReasonCode.MALFORMED)
        cert_id = value["certs"][0]
        _check_ess_cert_id(cert_id, cert_id["hash_algorithm"]["algorithm"].native, signer)
    for value in attributes.get("signing_certificate", []):
        if not isinstance(value, tsp.SigningCertificate):
            raise Refusal(ReasonCode.MALFORMED)
        _check_ess_cert_id(value["certs"][0], "sha1", signer)


def _check_ess_cert_id(
    cert_id: tsp.ESSCertID | tsp.ESSCertIDv2, hash_name: str, signer: x509.Certificate
) -> None:
    """ESSCertID(v2): the hash (and issuer/serial when given) must name the signer's certificate."""
    if hash_name not in (*_HASHES, "sha1"):
        raise Refusal(ReasonCode.UNSUPPORTED_ALGORITHM)
    # SHA-1 only identifies the certificate here (ESS v1); the binding itself is signed with SHA-2.
    actual = hashlib.new(hash_name, signer.dump()).digest()
    if not hmac.compare_digest(bytes(cert_id["cert_hash"].native), actual):
        raise Refusal(ReasonCode.SIGNING_CERTIFICATE_MISMATCH)
    issuer_serial = cert_id["issuer_serial"]
    if issuer_serial.native is None:
        return
    names = [name.chosen for name in issuer_serial["issuer"] if name.name == "directory_name"]
    if issuer_serial["serial_number"].native != signer.serial_number or signer.issuer not in names:
        raise Refusal(ReasonCode.SIGNING_CERTIFICATE_MISMATCH)


def _verify_value(
    public_key_info: keys.PublicKeyInfo,
    signature_algorithm: algos.SignedDigestAlgorithm,
    digest_name: str,
    signature: bytes,
    data: bytes,
) -> None:
    """Verify one ECDSA / RSA PKCS#1 v1.5 / RSA-PSS signature value with the signer's public key."""
    try:
        public_key = serialization.load_der_public_key(public_key_info.dump())
        mechanism = signature_algorithm.signature_algo
    except (ValueError, UnsupportedAlgorithm) as error:
        raise Refusal(ReasonCode.UNSUPPORTED_ALGORITHM) from error
    try:
        hash_name = signature_algorithm.hash_algo
    except ValueError:
        # rsaEncryption / ecPublicKey as the signature algorithm: the digest algorithm applies.
        hash_name = digest_name
    try:
        if mechanism == "ecdsa" and isinstance(public_key, ec.EllipticCurvePublicKey):
            if not isinstance(public_key.curve, _CURVES):
                raise Refusal(ReasonCode.UNSUPPORTED_ALGORITHM)
            public_key.verify(signature, data, ec.ECDSA(_hash(hash_name)))
        elif mechanism == "rsassa_pkcs1v15" and isinstance(public_key, rsa.RSAPublicKey):
            _check_rsa_size(public_key)
            public_key.verify(signature, data, padding.PKCS1v15(), _hash(hash_name))
        elif mechanism == "rsassa_pss" and isinstance(public_key, rsa.RSAPublicKey):
            _check_rsa_size(public_key)
            pss, pss_hash = _pss_padding(signature_algorithm["parameters"])
            public_key.verify(signature, data, pss, pss_hash)
        else:
            raise Refusal(ReasonCode.UNSUPPORTED_ALGORITHM)
    except (InvalidSignature, ValueError) as error:
        # cryptography reports a damaged signature value either way.
        raise Refusal(ReasonCode.BAD_SIGNATURE) from error


def _hash(name: str) -> hashes.HashAlgorithm:
    if name not in _HASHES:
        raise Refusal(ReasonCode.UNSUPPORTED_ALGORITHM)
    return _HASHES[name]()


def _check_rsa_size(public_key: rsa.RSAPublicKey) -> None:
    if public_key.key_size < _MIN_RSA_BITS:
        raise Refusal(ReasonCode.UNSUPPORTED_ALGORITHM)


def _pss_padding(parameters: algos.RSASSAPSSParams) -> tuple[padding.PSS, hashes.HashAlgorithm]:
    """PSS padding exactly as declared: hash, MGF1 hash and salt length."""
    try:
        hash_name = parameters["hash_algorithm"]["algorithm"].native
        mgf = parameters["mask_gen_algorithm"]
        mgf_hash_name = mgf["parameters"]["algorithm"].native
        salt_length = parameters["salt_length"].native
        trailer = parameters["trailer_field"].native
    except PARSE_ERRORS as error:
        raise Refusal(ReasonCode.MALFORMED) from error
    if mgf["algorithm"].native != "mgf1" or trailer != "trailer_field_bc" or not isinstance(salt_length, int):
        raise Refusal(ReasonCode.UNSUPPORTED_ALGORITHM)
    return padding.PSS(mgf=padding.MGF1(_hash(mgf_hash_name)), salt_length=salt_length), _hash(hash_name)


def encapsulated_content(signature: bytes, *, max_bytes: int) -> bytes | None:
    """The content inside a non-detached signature (`openssl cms -sign -nodetach`), else None.

    Nothing is verified here: the caller verifies the signature over the returned bytes.
    """
    try:
        return parse_signed_message(
            decode_signature_file(signature, max_bytes=max_bytes)
        ).encapsulated_content
    except Refusal:
        return None
