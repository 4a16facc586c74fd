"""Revoking a school's ОІС grant at the school's request (the order, item 8): the director asks; an
institute admin approves with a signed decision; then, in one transaction, the grant is revoked, the
school's API key deactivated, a new one generated (shown ONCE to the director) and the school's other
active grants moved to the new key.

Flow: `aikom.flows.ois_access`; services: `aikom.services.ois_access`; start: the page «Доступ ОІС» and
`aikom ois revoke`.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from aikom.core.validation import RequiredText
from aikom.models import PersonRole
from aikom.processes.ois_access import WHO_GRANTS_UK
from aikom.processes.registry import ProcessSpec

TYPE = "ois-revocation"
APPROVE_STEP = "approve"
APPROVAL_DAYS = 3


class OisRevocationParams(BaseModel):
    """Ask the Institute to revoke one of the school's grants."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    grant: int = Field(description="Доступ ОІС, який відкликають: його номер")
    reason: RequiredText = Field(description="Причина відкликання", max_length=400)


class OisRevocationFacts(BaseModel):
    """`process.parameters` of a revocation, typed."""

    grant_id: int
    school_id: int
    school_name: str
    account_id: int
    ois_id: int
    ois_name: str
    reason: str
    revoked_at: datetime | None = None
    old_key_id: int | None = None
    new_key_id: int | None = None
    moved_grant_ids: list[int] = []

    def shown(self) -> list[list[str]]:
        """What the approving institute admin sees."""
        return [
            ["Заклад освіти", self.school_name],
            ["ОІС", self.ois_name],
            ["Доступ", f"№{self.grant_id}"],
            ["Причина", self.reason],
            [
                "Наслідки",
                "доступ відкликано; ключ API закладу деактивовано; новий ключ згенеровано й показано "
                "керівнику один раз; інші доступи закладу перенесено на новий ключ",
            ],
        ]


SPEC = ProcessSpec(
    type=TYPE,
    title_uk="Відкликання доступу ОІС",
    flow="aikom.flows.ois_access:ois_revocation",
    params=OisRevocationParams,
    start="aikom.services.ois_access:start_revocation",
    starter_roles=frozenset({PersonRole.DIRECTOR}),
    form="aikom.dashboard.forms.ois_access:render_revocation",
    who_may_start_uk=WHO_GRANTS_UK,
    description_uk=(
        "Запит керівника закладу → погодження технічним адміністратором ІОА (підписане КЕП) → доступ "
        "відкликано, ключ API закладу деактивовано, новий ключ показано керівнику один раз, інші доступи "
        "закладу перенесено на новий ключ; оператора ОІС і керівника повідомлено."
    ),
    step_days={APPROVE_STEP: APPROVAL_DAYS},
    step_titles_uk={APPROVE_STEP: "Погодження відкликання доступу ОІС технічним адміністратором ІОА"},
)
