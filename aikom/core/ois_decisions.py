"""The canonical document an institute admin signs with КЕП to change a connected ОІС: widen its capability
from a date (or cancel a widening not yet in force), suspend it, reinstate it or disconnect it. A single
signed decision, not a step of a process: it says what is decided, about which ОІС, by whom, why, from
when, and when it was signed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum

from aikom.core.decisions import MALFORMED_DOCUMENT, canonical_json

KIND = "ois_decision"


class OisAction(StrEnum):
    """What an ОІС decision does."""

    WIDEN = "widen"  # capability `receive_transmit` from a date
    SUSPEND = "suspend"
    REINSTATE = "reinstate"
    DISCONNECT = "disconnect"
    CANCEL_WIDENING = "cancel_widening"  # the planned `receive_transmit` phase of that date


@dataclass(frozen=True)
class OisDecisionDocument:
    """One ОІС decision in a form that serialises to the same bytes every time."""

    action: str
    ois: int
    actor: int
    reason: str
    effective_on: str  # ISO date for `widen` and `cancel_widening` (the phase's), "" otherwise
    time: str
    kind: str = KIND

    @classmethod
    def create(
        cls,
        *,
        action: OisAction,
        ois: int,
        actor: int,
        reason: str | None,
        effective_on: date | None = None,
        at: datetime | None = None,
    ) -> OisDecisionDocument:
        """A document for a decision made now (or at `at`), its time in UTC to the second."""
        moment = (at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        return cls(
            action=action.value,
            ois=ois,
            actor=actor,
            reason=(reason or "").strip(),
            effective_on=effective_on.isoformat() if effective_on else "",
            time=moment.isoformat().replace("+00:00", "Z"),
        )

    def to_bytes(self) -> bytes:
        """Canonical JSON: sorted keys, compact, UTF-8."""
        return canonical_json(dict(self.__dict__))

    @classmethod
    def from_bytes(cls, data: bytes) -> OisDecisionDocument:
        """Parse a document; ValueError unless it is exactly the canonical form of an ОІС decision."""
        try:
            raw = json.loads(data.decode("utf-8"))
            if raw.get("kind") != KIND:
                raise ValueError("not an ОІС decision")
            document = cls(
                action=OisAction(str(raw["action"])).value,
                ois=int(raw["ois"]),
                actor=int(raw["actor"]),
                reason=str(raw["reason"]),
                effective_on=str(raw["effective_on"]),
                time=str(raw["time"]),
            )
        except MALFORMED_DOCUMENT as e:
            raise ValueError("not an ОІС decision document") from e
        if document.to_bytes() != data:
            raise ValueError("ОІС decision document is not in canonical form")
        return document

    @property
    def signed_at(self) -> datetime:
        """The decision time as an aware datetime."""
        return datetime.fromisoformat(self.time.replace("Z", "+00:00"))
