"""Bulk deactivation of the schools the register marks liquidated whose АІКОМ account is still open:
its declaration and typed parameters (flow and services beside the single account deactivation's)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from aikom.models import PersonRole
from aikom.processes.account_deactivation import APPROVAL_DAYS, APPROVE_STEP, BULK_TYPE
from aikom.processes.registry import ProcessSpec

TYPE = BULK_TYPE
# Units deactivated per step (one unit of work each): a crash loses at most one batch, redone on re-run.
BATCH_SIZE = 50


class LiquidatedDeactivationParams(BaseModel):
    """Start the bulk deactivation: in the whole country, or in one oblast."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    oblast: str | None = Field(
        default=None, description="Область (КАТОТТГ, ЄДРПОУ або номер); без неї — уся країна"
    )


class BulkItem(BaseModel):
    """What the bulk deactivation did to one school."""

    org_unit_id: int
    name: str
    outcome: str  # "deactivated" | "skipped"
    note: str | None = None


class BulkFacts(BaseModel):
    """`process.parameters` of a bulk deactivation: the schools listed at start (what the decision
    covers) and, as the batches go, what happened to each."""

    scope_org_unit_id: int
    scope_name: str
    unit_ids: list[int]
    report: dict[str, BulkItem] = {}  # by org unit id (JSON keys are text)


SPEC = ProcessSpec(
    type=TYPE,
    title_uk="Деактивація облікових записів ліквідованих закладів",
    flow="aikom.flows.account_deactivation:liquidated_deactivation",
    params=LiquidatedDeactivationParams,
    start="aikom.services.deactivation:start_liquidated_deactivation",
    starter_roles=frozenset({PersonRole.INSTITUTE_ADMIN}),
    who_may_start_uk=(
        "деактивацію облікових записів ліквідованих закладів починає технічний адміністратор ІОА."
    ),
    form="aikom.dashboard.forms.account_deactivation:render_liquidated",
    description_uk=(
        "Заклади, які реєстр позначає ліквідованими, а їхній обліковий запис АІКОМ досі відкритий: одне "
        "підписане рішення іншого технічного адміністратора ІОА → кожен заклад деактивовано з причиною "
        "«ліквідація» (або пропущено з поясненням) → звіт у процесі та журналі аудиту."
    ),
    step_days={APPROVE_STEP: APPROVAL_DAYS},
    step_titles_uk={APPROVE_STEP: "Погодження пакетної деактивації іншим технічним адміністратором ІОА"},
)
