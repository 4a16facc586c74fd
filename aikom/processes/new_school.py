"""New school via a support request (DESIGN §3 item 5): an ОУО admin who cannot find a school in АІКОМ
files it with its ЄДРПОУ; the support desk triages it, an institute admin verifies it against the
registers and decides (signed), and the school card is created under the requesting ОУО.

"Ask for more information" at triage is a rejection whose comment says what is missing: the support
request is rejected with that comment as a public reply, and the requester answers in the same thread
(which reopens the request); the desk then starts the process again from the same request.

Flow: `aikom.flows.new_school`; services: `aikom.services.new_school`; start form:
`aikom.dashboard.forms.new_school`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from aikom.core.validation import RequiredText
from aikom.models import PersonRole
from aikom.processes.registry import ProcessSpec

TYPE = "new-school"
TRIAGE_STEP = "triage"
VERIFY_STEP = "verify"


class NewSchoolParams(BaseModel):
    """A school the requester cannot find in АІКОМ, as they give it."""

    # `--set edrpou=26338854` arrives as a number (codes with leading zeros stay text).
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid", coerce_numbers_to_str=True)

    edrpou: RequiredText = Field(description="Код ЄДРПОУ закладу", max_length=20)
    name: RequiredText = Field(description="Повна назва закладу", max_length=500)
    settlement: RequiredText = Field(description="Населений пункт", max_length=300)
    edebo_id: str | None = Field(
        default=None, description="Код закладу в ЄДЕБО (якщо відомий)", max_length=20
    )
    comment: str | None = Field(default=None, description="Коментар для служби підтримки", max_length=5000)
    # When the desk starts the process from a request of type new_school (the request is used, not a new one).
    support_request_id: int | None = Field(default=None, description="Номер звернення до служби підтримки")


class NewSchoolFacts(BaseModel):
    """`process.parameters` of a new-school process, typed."""

    edrpou: str
    name: str
    settlement: str
    edebo_id: str | None = None
    comment: str | None = None
    requesting_unit_id: int
    requesting_unit_name: str
    support_request_id: int
    school_id: int | None = None


SPEC = ProcessSpec(
    type=TYPE,
    title_uk="Новий заклад освіти (через службу підтримки)",
    flow="aikom.flows.new_school:new_school",
    params=NewSchoolParams,
    start="aikom.services.new_school:start_new_school",
    starter_roles=frozenset({PersonRole.OBLAST_ADMIN, PersonRole.RAYON_ADMIN, PersonRole.HROMADA_ADMIN}),
    who_may_start_uk=(
        "новий заклад освіти подає адміністратор органу управління освітою (області, району, громади чи "
        "району міста), якому заклад підпорядкований; служба підтримки може подати його від імені такого "
        "адміністратора."
    ),
    form="aikom.dashboard.forms.new_school:render",
    from_request="aikom.services.new_school:params_from_request",
    description_uk=(
        "Звернення до служби підтримки → розгляд службою підтримки (прийняти / відхилити чи запитати "
        "більше) → перевірка за реєстрами й підписане рішення технічного адміністратора ІОА → картка "
        "закладу під ОУО заявника → лист заявнику, звернення виконано."
    ),
    step_days={TRIAGE_STEP: 2, VERIFY_STEP: 5},
    step_titles_uk={TRIAGE_STEP: "Розгляд службою підтримки", VERIFY_STEP: "Перевірка за реєстрами"},
)
