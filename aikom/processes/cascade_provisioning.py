"""Cascade provisioning (DESIGN §3 item 1): an admin opens the account of a unit one level down and the
card of its admin person (for a school: its director, created by the school's managing ОУО).

Flow: `aikom.flows.cascade_provisioning`; services: `aikom.services.provisioning`; start form:
`aikom.dashboard.forms.cascade_provisioning`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from aikom.core.validation import Email, PersonName, RequiredText, Rnokpp
from aikom.models import PersonRole
from aikom.processes.registry import ProcessSpec
from aikom.services.approvals import FIRST_SIGNIN_STEP

TYPE = "cascade-provisioning"
ACTIVATION_DAYS = 10


class PersonCard(BaseModel):
    """A person card as the requester gives it."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    full_name: PersonName
    rnokpp: Rnokpp
    email: Email
    position: RequiredText = Field(description="Посада", max_length=300)


class CascadeProvisioningParams(BaseModel):
    """Open a unit's account (when the rollout has not) and its admin person's card."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    unit: RequiredText = Field(description="КАТОТТГ, ЄДРПОУ, код ЄДЕБО або номер одиниці")
    person: PersonCard
    official_email: Email | None = Field(
        default=None, description="Офіційна ел. пошта одиниці (за замовчуванням — з реєстру)"
    )


class PersonRecord(BaseModel):
    """A person card as a process keeps it: never the РНОКПП (that is sealed beside it)."""

    full_name: str
    email: str
    position: str


class ProvisioningFacts(BaseModel):
    """`process.parameters` of a cascade provisioning, typed."""

    unit_id: int
    unit_name: str
    role: PersonRole
    official_email: str | None = None
    person: PersonRecord
    person_rnokpp_sealed: str | None = None
    person_id: int | None = None
    account_id: int | None = None
    account_opened: bool = False


SPEC = ProcessSpec(
    type=TYPE,
    title_uk="Створення облікового запису (каскад)",
    flow="aikom.flows.cascade_provisioning:cascade_provisioning",
    params=CascadeProvisioningParams,
    start="aikom.services.provisioning:start_provisioning",
    starter_roles=frozenset(
        {
            PersonRole.INSTITUTE_ADMIN,
            PersonRole.OBLAST_ADMIN,
            PersonRole.RAYON_ADMIN,
            PersonRole.HROMADA_ADMIN,
        }
    ),
    who_may_start_uk=(
        "обліковий запис одиниці на рівень нижче відкриває адміністратор вищого рівня: ІОА — області, "
        "область — району, район — громади, а картку керівника закладу — ОУО, що керує закладом."
    ),
    form="aikom.dashboard.forms.cascade_provisioning:render",
    description_uk=(
        "Перевірка рівня і території → обліковий запис (якщо його ще немає) і картка особи → базовий ключ "
        "і ключ API → базовий ключ на офіційну пошту одиниці → перший вхід особи з КЕП (і базовим ключем)."
    ),
    step_days={FIRST_SIGNIN_STEP: ACTIVATION_DAYS},
    step_titles_uk={FIRST_SIGNIN_STEP: "Перший вхід нової особи з КЕП"},
)
