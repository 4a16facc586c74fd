"""The process registry: every business process declared once, as a `ProcessSpec`.

A spec names its flow, its Ukrainian title, its typed parameters, who may start it, its start service
and its start form — the last three by import path, so that the registry stays light: the dashboard
and the CLI read it without importing Prefect, and flows read it without importing Streamlit.
Deployments, `aikom process types|start`, «Почати процес», «Процес», «Процеси» and every title read
the registry; nothing outside a process's own modules branches on its type.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from aikom.core.errors import DomainError
from aikom.models import PersonRole

if TYPE_CHECKING:
    from aikom.models import Process

    StartService = Callable[..., Process]


class UnknownProcessType(DomainError):
    """No process of that type is declared."""

    code = "unknown_process_type"

    def __init__(self, process_type: str, known: list[str]) -> None:
        super().__init__(
            f"Тип процесу: «{process_type}» не існує; можливі: {', '.join(known)}.", process_type=process_type
        )


class ProcessNotStartable(DomainError):
    """The actor's role may not start this process."""

    code = "role_not_allowed"

    def __init__(self, spec: ProcessSpec) -> None:
        super().__init__(f"{spec.title_uk}: {spec.who_may_start_uk}", process_type=spec.type)


ParamsModel = type[BaseModel]


def load(path: str) -> Any:
    """The object an import path ("package.module:attribute") names."""
    module_name, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


@dataclass(frozen=True)
class StepScreen:
    """Where a human step that needs a screen of its own (a checklist, a form to fix and resubmit) is
    decided. The generic work queue («Мої завдання», `aikom tasks decide`) does not decide such a step:
    it links to this page and names this command instead."""

    page: str  # the dashboard page's url path ("ois"); the email about the step links there
    page_title_uk: str  # its name in the menu («ОІС»)
    command_uk: str  # the CLI command that decides it ("aikom ois review --document … --signature …")


@dataclass(frozen=True)
class ProcessSpec:
    """One business process: the single place that declares it."""

    type: str  # "director-replacement": the process type, the flow's name and its deployment's
    title_uk: str  # "Заміна керівника закладу освіти"
    flow: str  # import path of the Prefect flow
    params: ParamsModel  # what the start form, `aikom process start --params` and the API give
    start: str  # import path of the start service: (session=, actor=, params=) -> Process (STARTING)
    starter_roles: frozenset[PersonRole]  # who may start it (the start service checks the scope)
    who_may_start_uk: str  # said to a person who may not start it
    form: str | None = None  # import path of the dashboard start form: render(actor, session) -> params
    description_uk: str = ""
    # Business days a human step may take, by step key (the first matching prefix); "*" for the rest.
    step_days: Mapping[str, int] = field(default_factory=lambda: {"*": 5})
    # How managers call each step (by step key prefix, as in `step_days`): the monitor groups by it.
    step_titles_uk: Mapping[str, str] = field(default_factory=dict)
    # Steps decided on a screen of their own (by step key prefix, as in `step_days`), never in the
    # generic work queue: the queue and the email about the step point to that screen instead.
    step_screens: Mapping[str, StepScreen] = field(default_factory=dict)
    demo: bool = False  # served and offered only in demo mode
    # Import path of `(session=, request=) -> dict` giving the raw parameters prefilled from a support
    # request of a type that maps to this process (`services.support.PROCESS_FOR_TYPE`); without it a
    # start from a request prefills only `support_request_id` (when the parameters have that field). The
    # dashboard opens the start form prefilled when its widgets are keyed by the parameters' names.
    from_request: str | None = None

    def may_be_started_by(self, role: PersonRole) -> bool:
        """Whether a person of `role` may start this process (scope is checked at start)."""
        return role in self.starter_roles

    def known_steps(self) -> list[str]:
        """The step keys (or key prefixes) this process's flow opens: a run resumed on a changed flow
        goes on only while the flow still knows every step its process has."""
        return [key for key in self.step_days if key != "*"]

    def days_for(self, step_key: str) -> int:
        """Business days the step `step_key` may take."""
        for prefix, days in self.step_days.items():
            if prefix != "*" and step_key.startswith(prefix):
                return days
        return self.step_days.get("*", 5)

    def step_group(self, step_key: str) -> str:
        """The declared step (key prefix) `step_key` belongs to; the key itself when none matches."""
        for prefix in self.step_days:
            if prefix != "*" and step_key.startswith(prefix):
                return prefix
        return step_key

    def step_title(self, step_key: str) -> str:
        """The Ukrainian name of a step (its declared group's), or its key."""
        return self.step_titles_uk.get(self.step_group(step_key), step_key)

    def screen_for(self, step_key: str) -> StepScreen | None:
        """The screen of its own that decides the step `step_key`; None: the generic queue decides it."""
        for prefix, screen in self.step_screens.items():
            if step_key == prefix or step_key.startswith(f"{prefix}-"):
                return screen
        return None

    def parse(self, data: Mapping[str, Any] | BaseModel) -> BaseModel:
        """The parameters, validated (pydantic ValidationError when they do not fit)."""
        if isinstance(data, self.params):
            return data
        raw = data.model_dump() if isinstance(data, BaseModel) else dict(data)
        parsed: BaseModel = self.params.model_validate(raw)
        return parsed

    def start_service(self) -> StartService:
        """The service that validates the parameters and records the process."""
        service: StartService = load(self.start)
        return service

    def json_schema(self) -> dict[str, Any]:
        """The parameters' JSON schema (`aikom process types --json`)."""
        return self.params.model_json_schema()
