"""Deputies (DESIGN §3 item 3): a director creates a deputy's card; the deputy becomes ACTIVE at their
first КЕП sign-in. A deputy creates no deputy (a director does not pass powers on).

Flow: `aikom.flows.deputy`; services: `aikom.services.provisioning`; start form:
`aikom.dashboard.forms.deputy`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from aikom.models import PersonRole
from aikom.processes.cascade_provisioning import PersonCard, PersonRecord
from aikom.processes.registry import ProcessSpec
from aikom.services.approvals import FIRST_SIGNIN_STEP

TYPE = "deputy"
ACTIVATION_DAYS = 10


class DeputyParams(BaseModel):
    """Create a deputy (responsible person) of the director's school."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    person: PersonCard


class DeputyFacts(BaseModel):
    """`process.parameters` of a deputy's appointment, typed."""

    school_id: int
    school_name: str
    director_id: int
    person: PersonRecord
    person_rnokpp_sealed: str | None = None
    person_id: int | None = None


SPEC = ProcessSpec(
    type=TYPE,
    title_uk="Призначення заступника (відповідальної особи)",
    flow="aikom.flows.deputy:deputy",
    params=DeputyParams,
    start="aikom.services.provisioning:start_deputy",
    starter_roles=frozenset({PersonRole.DIRECTOR}),
    who_may_start_uk=(
        "заступника створює керівник закладу освіти; заступник не може створити заступника — керівник "
        "не передає своїх повноважень."
    ),
    form="aikom.dashboard.forms.deputy:render",
    description_uk="Картка заступника → лист із запрошенням → перший вхід заступника з КЕП.",
    step_days={FIRST_SIGNIN_STEP: ACTIVATION_DAYS},
    step_titles_uk={FIRST_SIGNIN_STEP: "Перший вхід заступника з КЕП"},
)
