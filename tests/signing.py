"""Signing helpers for tests: a test PKI, КЕП certificates that match a person, signed decisions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path

from sqlalchemy.orm import Session

from aikom.core import pki
from aikom.core.kep import TrustList
from aikom.core.pki import IssuedPerson
from aikom.models import ApprovalTask, Decision, OrgUnit, Person
from aikom.services import approvals
from aikom.services.approvals import SignedPayload
from aikom.services.org import effective_edrpou
from aikom.services.persons import read_rnokpp


@dataclass
class SigningPki:
    """A demo PKI in a folder, handing out (and remembering) each person's certificate."""

    directory: Path
    _issued: dict[int, IssuedPerson] = field(default_factory=dict)

    @classmethod
    def create(cls, directory: Path) -> SigningPki:
        """Initialise a fresh PKI in `directory`."""
        pki.init(directory)
        return cls(directory)

    @property
    def trust_dir(self) -> Path:
        """The folder a trust list loads (what AIKOM_TRUST_DIR points at)."""
        return pki.trust_dir(self.directory)

    @cached_property
    def trust(self) -> TrustList:
        """The trust list of this PKI."""
        return TrustList.load(self.trust_dir)

    def certificate_for(self, session: Session, person: Person) -> IssuedPerson:
        """The person's own КЕП: their РНОКПП and their unit's ЄДРПОУ (issued once per person)."""
        if person.id not in self._issued:
            unit = session.get_one(OrgUnit, person.org_unit_id)
            edrpou, rnokpp = effective_edrpou(session, unit), read_rnokpp(person)
            assert edrpou and rnokpp, "a signer needs a unit with ЄДРПОУ and a РНОКПП"
            self._issued[person.id] = self.issue(name=person.full_name, edrpou=edrpou, rnokpp=rnokpp)
        return self._issued[person.id]

    def issue(self, *, name: str, edrpou: str, rnokpp: str, non_repudiation: bool = True) -> IssuedPerson:
        """A certificate with exactly these identity fields."""
        return pki.issue_person(
            self.directory,
            name=name[:64],
            edrpou=edrpou,
            rnokpp=rnokpp,
            title="Посадова особа",
            non_repudiation=non_repudiation,
        )


def sign(holder: IssuedPerson, content: bytes) -> bytes:
    """A detached CMS signature of `content` by `holder`."""
    return pki.sign_detached(holder.key, holder.certificate, content)


def signed_decision(
    holder: IssuedPerson,
    *,
    task: ApprovalTask,
    actor: Person,
    decision: Decision,
    comment: str | None = None,
    at: datetime | None = None,
) -> SignedPayload:
    """The decision document for (task, actor, decision, comment), signed by `holder`."""
    document = approvals.decision_document(task=task, actor=actor, decision=decision, comment=comment, at=at)
    return SignedPayload(document=document, signature=sign(holder, document))


def decide_signed(
    session: Session,
    signing: SigningPki,
    *,
    task_id: int,
    actor: Person,
    decision: Decision,
    comment: str | None = None,
    now: datetime | None = None,
) -> ApprovalTask:
    """Decide as `actor`, signing the decision with the actor's own certificate."""
    task = session.get_one(ApprovalTask, task_id)
    signed = signed_decision(
        signing.certificate_for(session, actor), task=task, actor=actor, decision=decision, comment=comment,
        at=now,
    )  # fmt: skip
    return approvals.decide(
        session=session,
        task_id=task_id,
        actor=actor,
        decision=decision,
        comment=comment,
        signed=signed,
        trust=signing.trust,
        now=now,
    )
