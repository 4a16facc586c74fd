"""National rollout (DESIGN §3 item 11): the cascade opened in bulk — accounts, keys and base-key emails
for every unit of a level inside a scope, in batches, after one signed decision.

Flow: `aikom.flows.rollout`; services: `aikom.services.rollout`; start form: `aikom.dashboard.forms.rollout`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from aikom.models import PersonRole
from aikom.processes.registry import ProcessSpec

TYPE = "rollout"
APPROVE_STEP = "approve"
APPROVAL_DAYS = 3
BATCH_SIZE = 500

RolloutLevel = Literal["oblast", "rayon", "hromada", "district", "school"]


class RolloutParams(BaseModel):
    """Open the accounts of every unit of `level` inside `scope` (the whole country by default)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    level: RolloutLevel = Field(description="Рівень одиниць: oblast, rayon, hromada, district або school")
    scope: str | None = Field(
        default=None, description="КАТОТТГ, ЄДРПОУ або номер одиниці-охоплення (порожньо — уся країна)"
    )
    batch_size: int = Field(default=BATCH_SIZE, ge=10, le=5000, description="Одиниць в одному пакеті")


class RolloutFacts(BaseModel):
    """`process.parameters` of a rollout, typed."""

    scope_id: int
    scope_name: str
    level: RolloutLevel
    total: int
    batch_size: int = BATCH_SIZE


SPEC = ProcessSpec(
    type=TYPE,
    title_uk="Розгортання: відкриття облікових записів",
    flow="aikom.flows.rollout:rollout",
    params=RolloutParams,
    start="aikom.services.rollout:start_rollout",
    starter_roles=frozenset({PersonRole.INSTITUTE_ADMIN}),
    who_may_start_uk=(
        "розгортання починає технічний адміністратор ІОА (Інститут створює базові ключі облікових записів "
        "і надсилає їх на офіційні адреси — наказ, п. 4)."
    ),
    form="aikom.dashboard.forms.rollout:render",
    description_uk=(
        "Погодження іншим адміністратором ІОА (підписане КЕП) → пакетами: обліковий запис, базовий ключ і "
        "ключ API кожної одиниці, базовий ключ — на її офіційну пошту; одиниці без чинної офіційної адреси "
        "перелічуються, не вгадуються."
    ),
    step_days={APPROVE_STEP: APPROVAL_DAYS},
    step_titles_uk={APPROVE_STEP: "Погодження розгортання іншим адміністратором ІОА"},
)
