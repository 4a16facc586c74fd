"""Who acts: one value that travels from the entry point (page, CLI, task) to every service and the audit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Actor:
    """A person acting — possibly the support desk acting on a requester's behalf — or the system.

    `person_id` is who pressed the button; `on_behalf_of_id` is the requester the support desk acts for.
    Both are recorded in the audit, and four-eyes counts both: neither may approve the request.
    """

    person_id: int | None
    label: str
    on_behalf_of_id: int | None = None
    on_behalf_of_label: str | None = None

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        """The system itself (the reconciler, a flow step)."""
        return cls(person_id=None, label=label)

    @property
    def requester_id(self) -> int | None:
        """The person a request is from: the one acted for, else the actor."""
        return self.on_behalf_of_id if self.on_behalf_of_id is not None else self.person_id

    @property
    def person_ids(self) -> frozenset[int]:
        """Everyone this action stands for (four-eyes excludes them all from deciding it)."""
        return frozenset(i for i in (self.person_id, self.on_behalf_of_id) if i is not None)

    def audit_details(self) -> dict[str, Any]:
        """What the audit adds about an action on someone's behalf."""
        if self.on_behalf_of_id is None:
            return {}
        return {"on_behalf_of": self.on_behalf_of_id, "on_behalf_of_label": self.on_behalf_of_label}
