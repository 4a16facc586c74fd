"""The canonical decision document that an approver signs with КЕП."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# What reading a document that is not ours (bytes, JSON, fields) may raise.
MALFORMED_DOCUMENT = (
    UnicodeDecodeError,
    json.JSONDecodeError,
    KeyError,
    TypeError,
    ValueError,
    AttributeError,
)


@dataclass(frozen=True)
class DecisionDocument:
    """What an approver decides, in a form that serialises to the same bytes every time."""

    task: int
    process: int
    decision: str
    comment: str
    actor: int
    time: str

    @classmethod
    def create(
        cls,
        *,
        task: int,
        process: int,
        decision: str,
        comment: str | None,
        actor: int,
        at: datetime | None = None,
    ) -> DecisionDocument:
        """A document for a decision made now (or at `at`), with the time in UTC to the second."""
        moment = (at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        return cls(
            task=task,
            process=process,
            decision=decision,
            comment=(comment or "").strip(),
            actor=actor,
            time=moment.isoformat().replace("+00:00", "Z"),
        )

    def to_bytes(self) -> bytes:
        """Canonical JSON: sorted keys, no insignificant whitespace, UTF-8."""
        return canonical_json(self.__dict__)

    @classmethod
    def from_bytes(cls, data: bytes) -> DecisionDocument:
        """Parse a document; raises ValueError unless it is exactly the canonical form."""
        try:
            raw = json.loads(data.decode("utf-8"))
            document = cls(
                task=int(raw["task"]),
                process=int(raw["process"]),
                decision=str(raw["decision"]),
                comment=str(raw["comment"]),
                actor=int(raw["actor"]),
                time=str(raw["time"]),
            )
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise ValueError("not a decision document") from error
        if document.to_bytes() != data:
            raise ValueError("decision document is not in canonical form")
        return document

    @property
    def signed_at(self) -> datetime:
        """The decision time as an aware datetime."""
        return datetime.fromisoformat(self.time.replace("Z", "+00:00"))


def canonical_json(data: dict[str, Any]) -> bytes:
    """Sorted keys, compact separators, UTF-8 (no ASCII escaping)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class BatchItem:
    """One task's decision inside a batch document."""

    task: int
    process: int
    decision: str
    comment: str


@dataclass(frozen=True)
class BatchDecisionDocument:
    """Several decisions signed with ONE КЕП signature: every task with its decision, by one actor."""

    actor: int
    time: str
    items: tuple[BatchItem, ...]
    kind: str = "batch"

    @classmethod
    def create(
        cls, *, actor: int, items: list[BatchItem], at: datetime | None = None
    ) -> BatchDecisionDocument:
        """A batch signed now (or at `at`); items in task order."""
        moment = (at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        ordered = tuple(sorted(items, key=lambda i: i.task))
        return cls(actor=actor, time=moment.isoformat().replace("+00:00", "Z"), items=ordered)

    def to_bytes(self) -> bytes:
        """Canonical JSON, as for a single decision."""
        return canonical_json(
            {
                "kind": self.kind,
                "actor": self.actor,
                "time": self.time,
                "items": [item.__dict__ for item in self.items],
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> BatchDecisionDocument:
        """Parse a batch document; ValueError unless it is exactly the canonical form."""
        try:
            raw = json.loads(data.decode("utf-8"))
            if raw.get("kind") != "batch":
                raise ValueError("not a batch")
            document = cls(
                actor=int(raw["actor"]),
                time=str(raw["time"]),
                items=tuple(
                    BatchItem(
                        task=int(i["task"]),
                        process=int(i["process"]),
                        decision=str(i["decision"]),
                        comment=str(i["comment"]),
                    )
                    for i in raw["items"]
                ),
            )
        except MALFORMED_DOCUMENT as error:
            raise ValueError("not a batch decision document") from error
        if document.to_bytes() != data:
            raise ValueError("batch decision document is not in canonical form")
        return document

    @property
    def signed_at(self) -> datetime:
        """The decision time as an aware datetime."""
        return datetime.fromisoformat(self.time.replace("Z", "+00:00"))


def parse_decision_document(data: bytes) -> DecisionDocument | BatchDecisionDocument:
    """A single or a batch decision document; ValueError for anything else."""
    try:
        return DecisionDocument.from_bytes(data)
    except ValueError:
        return BatchDecisionDocument.from_bytes(data)
