"""API key regeneration (DESIGN §3 item 8): at an account's request (its director, or an ОУО admin for
the ОУО's own account) an institute admin approves with a signed decision; the old API key is
deactivated, a new one generated and shown ONCE on «Ключ API»; the account's ОІС grants move to it.
The support desk starts it from a `key_regeneration` request (on the requester's behalf).

Flow: `aikom.flows.key_regeneration`; services: `aikom.services.key_regeneration`.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from aikom.core.validation import RequiredText
from aikom.models import PersonRole
from aikom.processes.registry import ProcessSpec

TYPE = "key-regeneration"
APPROVE_STEP = "approve"
APPROVAL_DAYS = 3


REASON_MAX_LENGTH = 400


class KeyRegenerationParams(BaseModel):
    """Ask for a new API key of the requester's own account."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    reason: RequiredText = Field(
        description="Чому потрібен новий ключ API (втрачено, скомпрометовано…)", max_length=REASON_MAX_LENGTH
    )


class KeyRegenerationFacts(BaseModel):
    """`process.parameters` of a key regeneration, typed."""

    account_id: int
    org_unit_id: int
    unit_name: str
    key_id: int
    key_public_id: str
    reason: str
    done_at: datetime | None = None
    new_key_id: int | None = None
    moved_grant_ids: list[int] = []

    def shown(self) -> list[list[str]]:
        """What the approving institute admin sees (the public id only, never a secret)."""
        return [
            ["Організація", self.unit_name],
            ["Ключ API", f"№{self.key_id} ({self.key_public_id[:8]}…)"],
            ["Причина", self.reason],
            [
                "Наслідки",
                "ключ деактивовано; новий ключ показано один раз; доступи ОІС перенесено на новий ключ",
            ],
        ]


SPEC = ProcessSpec(
    type=TYPE,
    title_uk="Перегенерація ключа API",
    flow="aikom.flows.key_regeneration:key_regeneration",
    params=KeyRegenerationParams,
    start="aikom.services.key_regeneration:start_key_regeneration",
    starter_roles=frozenset(
        {PersonRole.DIRECTOR, PersonRole.OBLAST_ADMIN, PersonRole.RAYON_ADMIN, PersonRole.HROMADA_ADMIN}
    ),
    form="aikom.dashboard.forms.ois_access:render_key_regeneration",
    from_request="aikom.services.key_regeneration:params_from_request",
    who_may_start_uk=(
        "перегенерацію ключа API замовляє керівник закладу освіти або адміністратор ОУО — для власного "
        "облікового запису (заступник не замовляє); погоджує технічний адміністратор ІОА."
    ),
    description_uk=(
        "Запит облікового запису → погодження технічним адміністратором ІОА (підписане КЕП) → старий ключ "
        "деактивовано, новий показано один раз на сторінці «Ключ API», доступи ОІС перенесено на новий ключ."
    ),
    step_days={APPROVE_STEP: APPROVAL_DAYS},
    step_titles_uk={APPROVE_STEP: "Погодження перегенерації ключа API технічним адміністратором ІОА"},
)
