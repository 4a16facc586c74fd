"""КЕП (qualified electronic signature) verification: pure rules, no database.

`verify_detached` checks a detached CMS/PKCS#7 signature, its certificate chain to a `TrustList` of
qualified CAs, validity, CRL status (fail closed) and key usage for a `Purpose`, and reads the signer's
`Identity` (ЄДРПОУ, РНОКПП, name, title, organization).
"""

from aikom.core.kep.identity import (
    DSTU_4145_OID,
    EDRPOU_OID,
    RNOKPP_OID,
    Identity,
    KeyAlgorithm,
    encode_subject_directory_attributes,
    read_identity,
)
from aikom.core.kep.reasons import MESSAGES_UK, Purpose, ReasonCode
from aikom.core.kep.trust import TrustList, TrustListUnavailable
from aikom.core.kep.verify import DEFAULT_MAX_BYTES, Verification, averify_detached, verify_detached

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DSTU_4145_OID",
    "EDRPOU_OID",
    "MESSAGES_UK",
    "RNOKPP_OID",
    "Identity",
    "KeyAlgorithm",
    "Purpose",
    "ReasonCode",
    "TrustList",
    "TrustListUnavailable",
    "Verification",
    "averify_detached",
    "encode_subject_directory_attributes",
    "read_identity",
    "verify_detached",
]
