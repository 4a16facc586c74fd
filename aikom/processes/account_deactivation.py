"""Account deactivation (DESIGN §3 item 9; the order's item 10) and the bulk deactivation of schools the
register marks liquidated: their declarations and typed parameters.

Flows: `aikom.flows.account_deactivation`; services: `aikom.services.deactivation`; start forms:
`aikom.dashboard.forms.account_deactivation`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from aikom.core.validation import RequiredText
from aikom.models import DeactivationReason, PersonRole
from aikom.processes.registry import ProcessSpec

TYPE = "account-deactivation"
BULK_TYPE = "liquidated-deactivation"
APPROVE_STEP = "approve"
BRANCH_STEP = "branch-"
# Business days each human step may take.
APPROVAL_DAYS = 3
BRANCH_DAYS = 10

REASON_TITLES_UK: dict[DeactivationReason, str] = {
    DeactivationReason.LIQUIDATION: "ліквідація",
    DeactivationReason.REORGANIZATION: "реорганізація",
    DeactivationReason.UNAUTHORIZED_INTERFERENCE: "несанкціоноване втручання в роботу АІКОМ",
    DeactivationReason.CYBER_INCIDENT: "кіберзагроза, кіберінцидент чи кібератака (або ризик їх настання)",
}
# The keys of the unit are suspended at once, before anyone approves.
SECURITY_REASONS = frozenset(
    {DeactivationReason.UNAUTHORIZED_INTERFERENCE, DeactivationReason.CYBER_INCIDENT}
)
# What a managing ОУО may give as the reason; an institute admin may give any.
OUO_REASONS = frozenset({DeactivationReason.LIQUIDATION, DeactivationReason.REORGANIZATION})


def _code_as_text(value: object) -> object:
    """A unit code typed as a number (`--org 17`) is the same code as text."""
    return str(value) if isinstance(value, int) else value


UnitCode = Annotated[str, BeforeValidator(_code_as_text)]


class AccountDeactivationParams(BaseModel):
    """Start a deactivation: whose account, why, and (for a reorganisation) the successor unit."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    org: Annotated[RequiredText, BeforeValidator(_code_as_text)] = Field(
        description="Організація, чий обліковий запис деактивують: ЄДРПОУ або номер"
    )
    # Checked by the start service, so that a missing or unknown reason is refused in Ukrainian.
    reason: str | None = Field(
        default=None,
        description="Причина: liquidation, reorganization, unauthorized_interference, cyber_incident",
        json_schema_extra={"enum": [r.value for r in DeactivationReason]},
    )
    successor: UnitCode | None = Field(
        default=None, description="Для реорганізації: правонаступник (ЄДРПОУ або номер організації)"
    )
    note: str | None = Field(default=None, description="Підстава: документ, номер інциденту тощо")


class BranchOutcome(BaseModel):
    """What became of one branch of a deactivated hub school."""

    branch_id: int
    branch_name: str
    outcome: str  # "deactivated" | "moved" | "kept"
    hub_id: int | None = None
    hub_name: str | None = None
    note: str | None = None


class DeactivationFacts(BaseModel):
    """`process.parameters` of an account deactivation, typed (what its flow and services read)."""

    org_unit_id: int
    unit_name: str
    unit_level: str
    account_id: int
    reason: DeactivationReason
    note: str | None = None
    successor_org_unit_id: int | None = None
    successor_name: str | None = None
    managing_body_id: int | None = None
    suspended_key_ids: list[int] = []
    deactivated_at: datetime | None = None
    deactivated_by_id: int | None = None  # the institute admin whose approval it was
    branches: list[BranchOutcome] = []


SPEC = ProcessSpec(
    type=TYPE,
    title_uk="Деактивація облікового запису",
    flow="aikom.flows.account_deactivation:account_deactivation",
    params=AccountDeactivationParams,
    start="aikom.services.deactivation:start_deactivation",
    starter_roles=frozenset(
        {
            PersonRole.INSTITUTE_ADMIN,
            PersonRole.OBLAST_ADMIN,
            PersonRole.RAYON_ADMIN,
            PersonRole.HROMADA_ADMIN,
        }
    ),
    who_may_start_uk=(
        "деактивацію облікового запису починає технічний адміністратор ІОА (з будь-якої причини) або "
        "адміністратор органу управління освітою, що керує організацією (лише через ліквідацію чи "
        "реорганізацію)."
    ),
    form="aikom.dashboard.forms.account_deactivation:render",
    description_uk=(
        "Через несанкціоноване втручання чи кіберінцидент ключі призупиняються одразу → погодження іншим "
        "технічним адміністратором ІОА → обліковий запис деактивовано, ключі деактивовано, особи неактивні, "
        "доступи ОІС відкликано → рішення щодо кожної філії опорного закладу → ОУО повідомлено. "
        "Відхилено — призупинені ключі відновлено."
    ),
    step_days={APPROVE_STEP: APPROVAL_DAYS, BRANCH_STEP: BRANCH_DAYS},
    step_titles_uk={
        APPROVE_STEP: "Погодження деактивації іншим технічним адміністратором ІОА",
        BRANCH_STEP: "Рішення щодо філії деактивованого опорного закладу",
    },
)
