"""Why a КЕП signature is refused: stable reason codes and the Ukrainian message for each."""

from __future__ import annotations

from enum import StrEnum


class Purpose(StrEnum):
    """What the signature is for; it decides the key usage the certificate must allow."""

    SIGN_IN = "sign-in"
    DECISION = "decision"

    @property
    def required_key_usage(self) -> frozenset[str]:
        """Key usage bits (asn1crypto names) the signer's certificate must carry."""
        if self is Purpose.DECISION:
            return frozenset({"digital_signature", "non_repudiation"})
        return frozenset({"digital_signature"})


class ReasonCode(StrEnum):
    """Stable codes of refusal, for logs, audit and the API."""

    MALFORMED = "malformed"
    TOO_LARGE = "too_large"
    NO_SIGNER_CERTIFICATE = "no_signer_certificate"
    UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
    BAD_SIGNATURE = "bad_signature"
    CONTENT_MISMATCH = "content_mismatch"
    SIGNING_CERTIFICATE_MISMATCH = "signing_certificate_mismatch"
    UNKNOWN_CA = "unknown_ca"
    CHAIN_INVALID = "chain_invalid"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    REVOKED = "revoked"
    CRL_MISSING = "crl_missing"
    CRL_STALE = "crl_stale"
    KEY_USAGE = "key_usage"
    DSTU_UNSUPPORTED = "dstu_unsupported"
    VERIFICATION_ERROR = "verification_error"


MESSAGES_UK: dict[ReasonCode, str] = {
    ReasonCode.MALFORMED: (
        "Файл підпису пошкоджений або має невідомий формат. Потрібен підпис CMS/PKCS#7 (.p7s) "
        "у форматі DER, PEM або base64."
    ),
    ReasonCode.TOO_LARGE: "Файл підпису завеликий.",
    ReasonCode.NO_SIGNER_CERTIFICATE: (
        "У файлі підпису немає сертифіката підписувача. Підпишіть ще раз із включенням сертифіката."
    ),
    ReasonCode.UNSUPPORTED_ALGORITHM: (
        "Алгоритм підпису або ключа не підтримується (підтримуються ECDSA P-256/P-384 та RSA від 2048 біт "
        "із SHA-256/384/512)."
    ),
    ReasonCode.BAD_SIGNATURE: "Підпис недійсний: він не відповідає сертифікату підписувача або даним.",
    ReasonCode.CONTENT_MISMATCH: "Підпис накладено на інші дані, ніж ті, що перевіряються.",
    ReasonCode.SIGNING_CERTIFICATE_MISMATCH: (
        "Підписаний атрибут «сертифікат підписувача» (signingCertificate) не відповідає "
        "сертифікату у підписі."
    ),
    ReasonCode.UNKNOWN_CA: (
        "Сертифікат видано надавачем, якого немає в списку довірених кваліфікованих надавачів (АЦСК)."
    ),
    ReasonCode.CHAIN_INVALID: "Ланцюжок сертифікатів до довіреного надавача (АЦСК) недійсний.",
    ReasonCode.EXPIRED: "Строк чинності сертифіката закінчився.",
    ReasonCode.NOT_YET_VALID: "Сертифікат ще не набрав чинності.",
    ReasonCode.REVOKED: "Сертифікат скасовано (відкликано) надавачем.",
    ReasonCode.CRL_MISSING: (
        "Немає списку відкликаних сертифікатів (CRL) надавача, тож статус сертифіката перевірити "
        "неможливо. Зверніться до адміністратора, щоб оновити список довірених надавачів."
    ),
    ReasonCode.CRL_STALE: (
        "Список відкликаних сертифікатів (CRL) надавача застарів, тож статус сертифіката перевірити "
        "неможливо. Зверніться до адміністратора, щоб оновити CRL."
    ),
    ReasonCode.KEY_USAGE: "Сертифікат не дозволяє такого використання ключа.",
    ReasonCode.DSTU_UNSUPPORTED: (
        "Це сертифікат із ключем ДСТУ 4145. Перевірка підписів ДСТУ 4145 поки що недоступна; "
        "скористайтеся ключем ECDSA або RSA."
    ),
    ReasonCode.VERIFICATION_ERROR: (
        "Не вдалося перевірити підпис через внутрішню помилку. Спробуйте ще раз або зверніться до підтримки."
    ),
}

KEY_USAGE_MESSAGES_UK: dict[Purpose, str] = {
    Purpose.SIGN_IN: "Сертифікат не дозволяє цифровий підпис (digitalSignature), тож ним не можна увійти.",
    Purpose.DECISION: (
        "Для підписання рішень сертифікат має дозволяти цифровий підпис і неспростовність "
        "(digitalSignature, nonRepudiation)."
    ),
}

VALID_MESSAGE_UK = "Підпис дійсний."


class Refusal(Exception):
    """Internal signal: verification stops here with this reason (never leaves the kep package)."""

    def __init__(self, reason: ReasonCode, message_uk: str | None = None) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.message_uk = message_uk or MESSAGES_UK[reason]
