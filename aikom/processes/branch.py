"""Branches (DESIGN §3 item 4): a hub school's director creates a branch; an admin of the hub's managing
ОУО confirms it. A branch with its own ЄДРПОУ gets its own account, keys and head (who signs in with КЕП
carrying the branch's ЄДРПОУ and arranges КЕП for the branch's staff); without one, its staff act within
the hub's account and sign with certificates that carry the hub's ЄДРПОУ.

A school is a hub when ЄДЕБО marks it so (`org_unit.edebo_mark = 'hub'`) or it already has active
branches; a branch never has branches of its own.

Flow: `aikom.flows.branch`; services: `aikom.services.branches`; start form:
`aikom.dashboard.forms.branch`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError
from stdnum.ua import edrpou as edrpou_rules

from aikom.core.validation import Email, RequiredText
from aikom.imports.identity import PLACEHOLDER_EDRPOU
from aikom.models import PersonRole
from aikom.processes.cascade_provisioning import PersonCard, PersonRecord
from aikom.processes.registry import ProcessSpec
from aikom.services.approvals import FIRST_SIGNIN_STEP

TYPE = "branch"
APPROVE_STEP = "approve"
APPROVAL_DAYS = 5
ACTIVATION_DAYS = 10


def _blank_to_none(value: object) -> object:
    """An optional text field left empty is absent."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def check_edrpou(value: str | None) -> str | None:
    """A legal entity's ЄДРПОУ: eight digits with a valid check digit (stdnum's rule), not a placeholder."""
    if value is None:
        return None
    code = value.strip()
    if not code.isdigit() or len(code) != 8:
        raise PydanticCustomError("edrpou", "код має складатися з 8 цифр")
    if code in PLACEHOLDER_EDRPOU:
        raise PydanticCustomError("edrpou", "«{code}» — заповнювач, а не код юридичної особи", {"code": code})
    if not edrpou_rules.is_valid(code):
        raise PydanticCustomError(
            "edrpou",
            "«{code}» має неправильну контрольну цифру (очікувалась {digit})",
            {"code": code, "digit": edrpou_rules.calc_check_digit(code)},
        )
    return code


def check_edebo_id(value: str | None) -> str | None:
    """A ЄДЕБО id: digits only (up to 20), kept without leading zeros as the register import keeps it."""
    if value is None:
        return None
    code = value.strip()
    if not code.isdigit() or len(code) > 20:
        raise PydanticCustomError("edebo_id", "лише цифри, до 20")
    return code.lstrip("0") or "0"


OptionalEdrpou = Annotated[str | None, BeforeValidator(_blank_to_none), AfterValidator(check_edrpou)]
OptionalEdeboId = Annotated[str | None, BeforeValidator(_blank_to_none), AfterValidator(check_edebo_id)]
OptionalEmail = Annotated[Email | None, BeforeValidator(_blank_to_none)]


class BranchParams(BaseModel):
    """Create a branch of the director's own (hub) school."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    name: RequiredText = Field(description="Назва філії", max_length=500)
    edrpou: OptionalEdrpou = Field(default=None, description="Власний ЄДРПОУ філії (порожньо — немає)")
    settlement: RequiredText = Field(description="Населений пункт філії", max_length=300)
    edebo_id: OptionalEdeboId = Field(default=None, description="Код філії в ЄДЕБО (якщо є)")
    head: PersonCard | None = Field(
        default=None, description="Керівник філії (лише для філії з власним ЄДРПОУ)"
    )
    official_email: OptionalEmail = Field(
        default=None, description="Офіційна ел. пошта філії (лише з власним ЄДРПОУ: на неї — базовий ключ)"
    )


class BranchFacts(BaseModel):
    """`process.parameters` of a branch's creation, typed (never the head's РНОКПП: sealed beside it)."""

    hub_id: int
    hub_name: str
    hub_edrpou: str | None
    managing_body_id: int
    name: str
    edrpou: str | None = None
    settlement: str
    edebo_id: str | None = None
    official_email: str | None = None
    head: PersonRecord | None = None
    head_rnokpp_sealed: str | None = None
    branch_id: int | None = None
    account_id: int | None = None
    account_opened: bool = False
    head_id: int | None = None

    def shown(self) -> list[list[str]]:
        """What the approving ОУО admin is shown (nothing personal beyond the head's name and email)."""
        rows = [
            ["Опорний заклад", self.hub_name],
            ["Назва філії", self.name],
            ["Населений пункт", self.settlement],
            ["Код ЄДЕБО", self.edebo_id or "немає"],
        ]
        if self.edrpou is None:
            hub_code = self.hub_edrpou or "—"
            rows.append(
                ["ЄДРПОУ", f"власного немає — працівники підписують КЕП з ЄДРПОУ опорного ({hub_code})"]
            )
            return rows
        rows.append(["ЄДРПОУ філії", self.edrpou])
        rows.append(["Офіційна пошта філії", self.official_email or "—"])
        if self.head is not None:
            rows.append(
                ["Керівник філії", f"{self.head.full_name}, {self.head.position} ({self.head.email})"]
            )
        return rows


SPEC = ProcessSpec(
    type=TYPE,
    title_uk="Створення філії",
    flow="aikom.flows.branch:branch",
    params=BranchParams,
    start="aikom.services.branches:start_branch",
    starter_roles=frozenset({PersonRole.DIRECTOR}),
    who_may_start_uk=(
        "філію створює керівник опорного закладу освіти (не заступник: керівник не передає своїх "
        "повноважень), а підтверджує ОУО, що керує закладом."
    ),
    form="aikom.dashboard.forms.branch:render",
    description_uk=(
        "Погодження ОУО, що керує опорним закладом → картка філії під опорним закладом → з власним ЄДРПОУ: "
        "обліковий запис філії, базовий ключ на її офіційну пошту, картка керівника філії і його перший "
        "вхід з КЕП; без власного ЄДРПОУ працівники філії підписують КЕП з ЄДРПОУ опорного закладу."
    ),
    step_days={APPROVE_STEP: APPROVAL_DAYS, FIRST_SIGNIN_STEP: ACTIVATION_DAYS},
    step_titles_uk={
        APPROVE_STEP: "Підтвердження філії ОУО",
        FIRST_SIGNIN_STEP: "Перший вхід керівника філії з КЕП",
    },
)
