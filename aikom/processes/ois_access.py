"""ОІС access for a school (DESIGN §3 item 7; the order, items 5 and 8): a school's director grants a
CONNECTED ОІС access to the school's data (`ois-access`) — the director's own decision, no human step —
and asks for a grant to be revoked (`ois-revocation`, declared in `aikom.processes.ois_revocation`): an
institute admin approves, the grant is revoked, the school's API key is deactivated, a new one is
generated (shown ONCE to the director) and the school's other grants move to it.

Flow: `aikom.flows.ois_access`; services: `aikom.services.ois_access`; start form: the page «Доступ ОІС»
(`aikom.dashboard.views.ois_access`) and `aikom ois grant`.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from aikom.models import PersonRole
from aikom.processes.registry import ProcessSpec

TYPE = "ois-access"
GRANT_STEP = "grant"  # not a human step: the grant is recorded with the process
# Who grants and asks to revoke: the director (the FAQ: «наразі весь функціонал доступний директору ЗО»).
WHO_GRANTS_UK = (
    "доступ ОІС надає та відкликає лише керівник закладу освіти (наразі весь функціонал доступний "
    "директору ЗО; заступник доступів не надає)."
)


class OisAccessParams(BaseModel):
    """Grant a connected ОІС access to the director's school."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    ois: int = Field(description="ОІС, якій надають доступ: її номер у переліку підключених")
    data_sets: list[str] = Field(default_factory=list, description="Набори даних (коди з каталогу)")
    # Checked by the service, so that a missing contract is refused in Ukrainian naming the field.
    contract_number: str | None = Field(default=None, description="Номер договору закладу з оператором ОІС")
    contract_date: date | None = Field(default=None, description="Дата договору закладу з оператором ОІС")


class OisAccessFacts(BaseModel):
    """`process.parameters` of a grant, typed."""

    school_id: int
    school_name: str
    ois_id: int
    ois_name: str
    data_sets: list[str]
    contract_number: str
    contract_date: date
    grant_id: int | None = None


SPEC = ProcessSpec(
    type=TYPE,
    title_uk="Надання доступу ОІС",
    flow="aikom.flows.ois_access:ois_access",
    params=OisAccessParams,
    start="aikom.services.ois_access:start_grant",
    starter_roles=frozenset({PersonRole.DIRECTOR}),
    form="aikom.dashboard.forms.ois_access:render_grant",
    who_may_start_uk=WHO_GRANTS_UK,
    description_uk=(
        "Керівник закладу обирає підключену ОІС, набори даних і зазначає договір закладу з оператором → "
        "доступ надано (прив'язано до чинного ключа API закладу), оператора ОІС повідомлено листом."
    ),
    step_days={GRANT_STEP: 1},
    step_titles_uk={GRANT_STEP: "Доступ надано (рішення керівника)"},
)
