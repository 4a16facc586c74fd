"""Director replacement (DESIGN §3 item 2): its declaration and its typed parameters.

Flow: `aikom.flows.director_replacement`; services: `aikom.services.directors`; start form:
`aikom.dashboard.forms.director_replacement`.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from aikom.core.validation import Email, OrderNumber, PastDate, PersonName, RequiredText, Rnokpp
from aikom.models import PersonRole
from aikom.processes.registry import ProcessSpec

TYPE = "director-replacement"
APPROVE_STEP = "approve"
# Business days each human step may take.
APPROVAL_DAYS = 5
ACTIVATION_DAYS = 10
DEPUTY_REVIEW_DAYS = 10


class NewDirector(BaseModel):
    """The new director as the requester gives them."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    full_name: PersonName
    rnokpp: Rnokpp
    email: Email
    order_no: OrderNumber = Field(description="Номер наказу про призначення")
    order_date: PastDate = Field(description="Дата наказу про призначення")


class DirectorReplacementParams(BaseModel):
    """Start a director replacement: the school and its new director."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    school: RequiredText = Field(description="ЄДРПОУ або номер закладу освіти")
    new_director: NewDirector


class NewDirectorRecord(BaseModel):
    """The new director as the process keeps them: never their РНОКПП (that is sealed beside it)."""

    full_name: str
    email: str
    order_no: str
    order_date: date


class ReplacementFacts(BaseModel):
    """`process.parameters` of a director replacement, typed (what its flow and services read)."""

    school_id: int
    school_name: str
    managing_body_id: int
    former_director_id: int | None = None
    new_director: NewDirectorRecord
    new_director_rnokpp_sealed: str | None = None
    new_director_id: int | None = None


SPEC = ProcessSpec(
    type=TYPE,
    title_uk="Заміна керівника закладу освіти",
    flow="aikom.flows.director_replacement:director_replacement",
    params=DirectorReplacementParams,
    start="aikom.services.directors:start_replacement",
    starter_roles=frozenset({PersonRole.OBLAST_ADMIN, PersonRole.RAYON_ADMIN, PersonRole.HROMADA_ADMIN}),
    who_may_start_uk=(
        "заміну керівника починає адміністратор органу управління освітою (ОУО), що керує закладом: "
        "громади, а для закладів обласного чи районного підпорядкування — області чи району."
    ),
    form="aikom.dashboard.forms.director_replacement:render",
    description_uk=(
        "Погодження іншим адміністратором ОУО → колишній керівник неактивний, картка нового керівника → "
        "перший вхід нового керівника з КЕП → рішення щодо кожного заступника колишнього керівника."
    ),
    step_days={APPROVE_STEP: APPROVAL_DAYS, "first-sign-in": ACTIVATION_DAYS, "deputy-": DEPUTY_REVIEW_DAYS},
    step_titles_uk={
        APPROVE_STEP: "Погодження заміни іншим адміністратором ОУО",
        "first-sign-in": "Перший вхід нового керівника з КЕП",
        "deputy-": "Рішення щодо заступника",
    },
)
