"""ОІС connection (DESIGN §3 item 6; the order, item 6): a registered ОІС operator applies with its
company's signed accession agreement and a self-assessment against the connection checklist; an
institute admin reviews the application item by item (a failed item returns it to the operator, who
fixes and resubmits it; every review is kept) and, when it passes, signs the Institute's conformity
conclusion; a DIFFERENT institute admin approves the agreement (signed). Outcome: the ОІС is CONNECTED
with capability `receive`, its agreement numbered and dated, and the operator is emailed.

Flow: `aikom.flows.ois_connection`; services: `aikom.services.ois_connection`; the application form is
on «Моя ОІС» (`aikom.dashboard.views.ois_mine`) and `aikom ois apply`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from aikom.core.validation import Email, RequiredText
from aikom.models import PersonRole
from aikom.processes.registry import ProcessSpec, StepScreen

TYPE = "ois-connection"
REVIEW_STEP = "review"  # "review-<submission no>": the conformity review of that submission
RESUBMIT_STEP = "resubmit"  # "resubmit-<submission no>": the operator fixes a returned application
AGREEMENT_STEP = "agreement"  # the agreement approved by another institute admin
REVIEW_DAYS = 10
RESUBMIT_DAYS = 30
AGREEMENT_DAYS = 5
MAX_SUBMISSIONS = 20  # a run stops asking after this many returned submissions


def review_step(submission_no: int, attempt: int = 1) -> str:
    """The step key of the review of a submission (asked again: with the attempt's number)."""
    return f"{REVIEW_STEP}-{submission_no}" + (f"-{attempt}" if attempt > 1 else "")


def resubmit_step(submission_no: int) -> str:
    """The step key that waits for the resubmission after the review of `submission_no` failed."""
    return f"{RESUBMIT_STEP}-{submission_no}"


class SelfAssessmentItem(BaseModel):
    """The operator's own answer to one requirement of the checklist."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    code: str = Field(max_length=20)
    met: bool
    note: str | None = Field(default=None, max_length=2000)


class OisConnectionParams(BaseModel):
    """An application for connection, as the operator gives it (the agreement file and its .p7s in base64)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    system_name: RequiredText = Field(description="Назва ОІС", max_length=300)
    site: RequiredText = Field(description="Сайт ОІС", max_length=500)
    contact_name: RequiredText = Field(description="Контактна особа", max_length=300)
    contact_email: Email = Field(description="Ел. пошта для листів про підключення")
    contact_phone: str | None = Field(default=None, description="Телефон", max_length=50)
    agreement_file_name: RequiredText = Field(description="Файл договору про приєднання", max_length=300)
    agreement_base64: str = Field(description="Договір про приєднання (base64)", repr=False)
    agreement_signature_base64: str = Field(description="КЕП-підпис договору (.p7s, base64)", repr=False)
    self_assessment: list[SelfAssessmentItem] = Field(
        default_factory=list, description="Самооцінка за переліком технічних вимог"
    )


class OisConnectionFacts(BaseModel):
    """`process.parameters` of an ОІС connection, typed (the files live in `agreement`)."""

    ois_id: int
    system_name: str
    company_name: str
    company_edrpou: str
    company_unit_id: int


SPEC = ProcessSpec(
    type=TYPE,
    title_uk="Підключення ОІС",
    flow="aikom.flows.ois_connection:ois_connection",
    params=OisConnectionParams,
    start="aikom.services.ois_connection:start_application",
    starter_roles=frozenset({PersonRole.OIS_OPERATOR}),
    who_may_start_uk=(
        "заявку на підключення подає зареєстрований оператор ОІС (компанія, що увійшла з КЕП своєї "
        "юридичної особи) на сторінці «Моя ОІС»."
    ),
    form="aikom.dashboard.forms.ois_connection:render",
    description_uk=(
        "Заявка оператора з підписаним договором про приєднання і самооцінкою → перевірка відповідності "
        "Технічним вимогам адміністратором ІОА (невиконана вимога — заявку повернуто на доопрацювання) → "
        "висновок ІОА, підписаний КЕП → погодження договору іншим адміністратором ІОА → ОІС підключено "
        "(отримання даних), лист оператору."
    ),
    step_days={REVIEW_STEP: REVIEW_DAYS, RESUBMIT_STEP: RESUBMIT_DAYS, AGREEMENT_STEP: AGREEMENT_DAYS},
    # The review is a checklist, the agreement is for a different admin than the reviewer, the
    # resubmission is the operator's fixed application: each is decided on its own screen only.
    step_screens={
        REVIEW_STEP: StepScreen(
            page="ois", page_title_uk="ОІС", command_uk="aikom ois review --document … --signature …"
        ),
        RESUBMIT_STEP: StepScreen(
            page="my-ois",
            page_title_uk="Моя ОІС",
            command_uk="aikom ois resubmit ID --document … --signature …",
        ),
        AGREEMENT_STEP: StepScreen(
            page="ois", page_title_uk="ОІС", command_uk="aikom ois agreement ID --document … --signature …"
        ),
    },
    step_titles_uk={
        REVIEW_STEP: "Перевірка відповідності Технічним вимогам",
        RESUBMIT_STEP: "Доопрацювання заявки оператором",
        AGREEMENT_STEP: "Погодження договору про приєднання",
    },
)
