"""The access decision: may this API key be used by this ОІС for this data set and operation, now?

Pure rules over a `Snapshot` (no database): the key is checked for real (format, checksum, then
HMAC(pepper, secret) against the stored hash), then its state and its account's, the ОІС's state, the
school's grant and the data sets it names, and for `write` the ОІС's capability in force now.

A gateway presents the same few keys over and over (an ОІС syncing a school calls with that school's key
all day), so a key that passed the format, checksum and HMAC checks is remembered: by the SHA-256 of the
presented text (no plaintext key is kept) and bound to the very snapshot entry it was checked against. Any
change to the key's row replaces that entry, so the next request checks the key in full again; its state,
its account's and everything after are read from the snapshot on every request.
"""

from __future__ import annotations

import hashlib
import hmac
from enum import StrEnum
from typing import NamedTuple

from aikom.core.ois_catalogue import Catalogue
from aikom.gateway.snapshot import KeyEntry, Snapshot
from aikom.gateway.tokens import parse_presented

OPERATIONS = ("read", "write")
# Hashed when the public id is unknown, so an unknown key costs as much as a known one.
_DUMMY_HASH = bytes(32)
_DUMMY_PEPPER = b"dummy-pepper"
# Keys remembered as checked (SHA-256 of the presented text → the snapshot entry it matched); when full,
# the memory starts over. 100,000 entries take about 15 MB.
MAX_VERIFIED_KEYS = 100_000


class Reason(StrEnum):
    """Why a request was allowed or denied (the `reason` of the answer and of the metrics)."""

    ALLOWED = "allowed"
    KEY_MALFORMED = "key_malformed"
    KEY_UNKNOWN = "key_unknown"
    KEY_DEACTIVATED = "key_deactivated"
    KEY_SUSPENDED = "key_suspended"
    ACCOUNT_DEACTIVATED = "account_deactivated"
    ACCOUNT_SUSPENDED = "account_suspended"
    ACCOUNT_NOT_ACTIVE = "account_not_active"
    RESERVED_DATA_SET = "reserved_data_set"
    UNKNOWN_DATA_SET = "unknown_data_set"
    OIS_NOT_CONNECTED = "ois_not_connected"
    OIS_SUSPENDED = "ois_suspended"
    OIS_DISCONNECTED = "ois_disconnected"
    NO_GRANT = "no_grant"
    DATA_SET_READ_ONLY = "data_set_read_only"
    WRITE_NOT_ALLOWED_YET = "write_not_allowed_yet"


MESSAGES_UK: dict[Reason, str] = {
    Reason.ALLOWED: "Доступ дозволено.",
    Reason.KEY_MALFORMED: "Це не ключ API АІКОМ або ключ скопійовано з помилкою: перевірте ключ.",
    Reason.KEY_UNKNOWN: "Такого ключа API в системі немає.",
    Reason.KEY_DEACTIVATED: "Ключ API деактивовано; заклад має отримати новий ключ.",
    Reason.KEY_SUSPENDED: "Дію ключа API призупинено.",
    Reason.ACCOUNT_DEACTIVATED: "Обліковий запис закладу, якому належить ключ, деактивовано.",
    Reason.ACCOUNT_SUSPENDED: "Дію облікового запису закладу, якому належить ключ, призупинено.",
    Reason.ACCOUNT_NOT_ACTIVE: "Обліковий запис закладу, якому належить ключ, ще не активовано.",
    Reason.RESERVED_DATA_SET: "Зарахування, відрахування та переведення учнів виконуються виключно "
    "в державному інтерфейсі АІКОМ; ОІС доступу до них не має.",
    Reason.UNKNOWN_DATA_SET: "Такого набору даних немає в переліку наборів даних для ОІС.",
    Reason.OIS_NOT_CONNECTED: "ОІС з таким ідентифікатором не підключена до АІКОМ.",
    Reason.OIS_SUSPENDED: "Підключення ОІС до АІКОМ призупинено.",
    Reason.OIS_DISCONNECTED: "ОІС відключено від АІКОМ.",
    Reason.NO_GRANT: "Заклад не надавав цій ОІС доступу до своїх даних.",
    Reason.DATA_SET_READ_ONLY: "Цей набір даних ОІС може лише отримувати, не передавати.",
    Reason.WRITE_NOT_ALLOWED_YET: "ОІС поки що може лише отримувати дані: право передавати дані "
    "ще не набуло чинності.",
}
NOT_GRANTED_DATA_SET_UK = "Заклад не надавав цій ОІС доступу до цього набору даних."


class Decision(NamedTuple):
    allowed: bool
    reason: Reason
    message_uk: str
    # For the log: the key's public id when the token parsed (never its secret).
    public_id: str | None = None


_OIS_STATE_REASONS = {
    "suspended": Reason.OIS_SUSPENDED,
    "disconnected": Reason.OIS_DISCONNECTED,
}
_KEY_STATE_REASONS = {"deactivated": Reason.KEY_DEACTIVATED, "suspended": Reason.KEY_SUSPENDED}
_ACCOUNT_STATE_REASONS = {
    "deactivated": Reason.ACCOUNT_DEACTIVATED,
    "suspended": Reason.ACCOUNT_SUSPENDED,
    "pending": Reason.ACCOUNT_NOT_ACTIVE,
}


def _deny(reason: Reason, public_id: str | None = None, message: str | None = None) -> Decision:
    return Decision(False, reason, message or MESSAGES_UK[reason], public_id)


def _secret_matches(secret: bytes, stored_hash: bytes, keyed: hmac.HMAC) -> bool:
    # HMAC-SHA256(pepper, secret) as `aikom.core.keys.hash_secret` computes it, from a copy of the HMAC
    # already keyed with the pepper (OpenSSL 3's one-shot HMAC sets its key up anew: twice the time).
    mac = keyed.copy()
    mac.update(secret)
    return hmac.compare_digest(mac.digest(), stored_hash)


def _keyed(pepper: bytes) -> hmac.HMAC:
    return hmac.new(pepper, digestmod=hashlib.sha256)


class Rules:
    """The catalogue and the peppers, in the shapes a decision looks them up in, and the keys already
    checked (used on the event loop's thread only)."""

    def __init__(self, catalogue: Catalogue, peppers: dict[str, bytes]) -> None:
        self.reserved = frozenset(d.code for d in catalogue.reserved)
        self.writable = {d.code: d.writable for d in catalogue.data_sets}
        self.peppers = {pepper_id: _keyed(pepper) for pepper_id, pepper in peppers.items()}
        self._dummy = _keyed(_DUMMY_PEPPER)
        self._verified: dict[bytes, KeyEntry] = {}

    def decide(
        self, snapshot: Snapshot, *, token: str, client_id: str, data_set: str, operation: str, now: float
    ) -> Decision:
        """Allow or deny one request at `now` (epoch seconds); the first rule that fails gives the reason."""
        fingerprint = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        key = self._verified.get(fingerprint)
        if key is None or snapshot.keys.get(key.public_id) is not key:
            checked = self._check_key(snapshot, token, fingerprint)
            if isinstance(checked, Decision):
                return checked
            key = checked
        public_id = key.public_id
        if data_set in self.reserved:
            return _deny(Reason.RESERVED_DATA_SET, public_id)
        writable = self.writable.get(data_set)
        if writable is None:
            return _deny(Reason.UNKNOWN_DATA_SET, public_id)
        # The secret was checked first: only the key's holder learns that it was deactivated.
        if key.state != "active":
            return _deny(_KEY_STATE_REASONS.get(key.state, Reason.KEY_DEACTIVATED), public_id)
        account_state = snapshot.accounts.get(key.account_id)
        if account_state != "active":
            reason = _ACCOUNT_STATE_REASONS.get(account_state or "", Reason.ACCOUNT_DEACTIVATED)
            return _deny(reason, public_id)

        ois = snapshot.ois_by_client.get(client_id)
        if ois is None:
            return _deny(Reason.OIS_NOT_CONNECTED, public_id)
        if ois.state != "connected":
            return _deny(_OIS_STATE_REASONS.get(ois.state, Reason.OIS_NOT_CONNECTED), public_id)
        capability = ois.capability_at(now)
        if capability == "none":
            return _deny(Reason.OIS_NOT_CONNECTED, public_id)

        grant = snapshot.grants.get((key.id, ois.id))
        if grant is None:
            return _deny(Reason.NO_GRANT, public_id)
        if data_set not in grant.data_sets:
            return _deny(Reason.NO_GRANT, public_id, NOT_GRANTED_DATA_SET_UK)
        if operation == "write":
            if not writable:
                return _deny(Reason.DATA_SET_READ_ONLY, public_id)
            if capability != "receive_transmit":
                return _deny(Reason.WRITE_NOT_ALLOWED_YET, public_id)
        return Decision(True, Reason.ALLOWED, _ALLOWED_UK, public_id)

    def _check_key(self, snapshot: Snapshot, token: str, fingerprint: bytes) -> KeyEntry | Decision:
        """The snapshot entry of the API key `token` (format, checksum and secret checked, then
        remembered by its fingerprint), or the denial."""
        parsed = parse_presented(token)
        if parsed is None:
            return _deny(Reason.KEY_MALFORMED)
        public_id = parsed.public_id
        if parsed.kind != "api":
            # A base access key is the school's own; it never opens data to an ОІС.
            return _deny(Reason.KEY_UNKNOWN, public_id)
        key = snapshot.keys.get(public_id)
        keyed = self.peppers.get(key.pepper_id) if key is not None else None
        if key is None or keyed is None:
            _secret_matches(parsed.secret, _DUMMY_HASH, self._dummy)
            return _deny(Reason.KEY_UNKNOWN, public_id)
        if not _secret_matches(parsed.secret, key.secret_hash, keyed):
            return _deny(Reason.KEY_UNKNOWN, public_id)
        if len(self._verified) >= MAX_VERIFIED_KEYS:
            self._verified.clear()
        self._verified[fingerprint] = key
        return key


_ALLOWED_UK = MESSAGES_UK[Reason.ALLOWED]
