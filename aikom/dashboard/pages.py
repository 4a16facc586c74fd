"""The dashboard's pages, declared once: where each lives, how the menu calls it, and who may use it.

The entry script builds the menu from this registry on every rerun, for the person signed in then
(`aikom.dashboard.navigation`); each page checks again with `open_page(<url_path>)`, so a page that a
role may not use is neither in its menu nor usable by typing its address. To add a page: its script
and ONE `PageSpec` line below (a public page — say, the list of connected ОІС — takes `audience=PUBLIC`).
Demo pages live in the demo package and are registered only in demo mode, like the demo processes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from aikom.models import PersonRole
from aikom.services.persons import PersonView

VIEWS = Path(__file__).resolve().parent / "views"
DEMO = Path(__file__).resolve().parent.parent / "demo"

ANONYMOUS: Literal["anonymous"] = "anonymous"  # only while not signed in (the sign-in page)
PUBLIC: Literal["public"] = "public"  # everybody, signed in or not
Roles = frozenset[PersonRole]
Audience = Literal["anonymous", "public"] | Roles | Callable[[], Roles]

R = PersonRole
EVERY_ROLE: Roles = frozenset(PersonRole)
INSTITUTE_STAFF: Roles = frozenset({R.INSTITUTE_ADMIN, R.SUPPORT_AGENT, R.MANAGER})
OUO_ADMINS: Roles = frozenset({R.OBLAST_ADMIN, R.RAYON_ADMIN, R.HROMADA_ADMIN})
# Who decides human steps: institute admins and the support desk, ОУО admins, directors (deputy reviews).
DECIDERS: Roles = frozenset({R.INSTITUTE_ADMIN, R.SUPPORT_AGENT, R.DIRECTOR}) | OUO_ADMINS
# Who watches processes by scope: institute staff (the manager read-only), ОУО admins, directors.
PROCESS_WATCHERS: Roles = INSTITUTE_STAFF | OUO_ADMINS | {R.DIRECTOR}
# Who may be away and have their tasks handed over (a director never passes powers on).
MAY_BE_ABSENT: Roles = frozenset({R.INSTITUTE_ADMIN}) | OUO_ADMINS

WORK, ACCOUNT, DEMO_SECTION = "Робота", "Обліковий запис", "Демонстраційний режим"


def process_starters() -> Roles:
    """Roles that may start at least one declared process (the process registry says which)."""
    from aikom.processes import all_specs

    return frozenset(role for spec in all_specs() for role in spec.starter_roles)


def monitor_viewers() -> Roles:
    """Who watches the monitor: institute staff and ОУО admins (the monitor service says which)."""
    from aikom.services.monitor import MONITOR_ROLES

    return frozenset(MONITOR_ROLES)


def key_holders() -> Roles:
    """Who is shown a new account's API key: its director or ОУО admin (never a deputy)."""
    from aikom.services.accounts import KEY_HOLDER_ROLES

    return KEY_HOLDER_ROLES


def ois_staff() -> Roles:
    """Who sees the staff's «ОІС» page (applications and reviews, connected ОІС): institute admins (who
    decide) and managers (read-only)."""
    from aikom.services.ois_admin import STAFF_VIEW_ROLES

    return frozenset(STAFF_VIEW_ROLES)


def _who_starts() -> str:
    from aikom.processes import all_specs

    return "Процеси починають: " + "; ".join(f"{s.title_uk} — {s.who_may_start_uk}" for s in all_specs())


@dataclass(frozen=True)
class PageSpec:
    """One dashboard page."""

    url_path: str  # its address (/tasks); also how pages and tests name it
    title: str  # its name in the menu
    icon: str
    script: Path
    section: str
    audience: Audience
    # What a signed-in person whose role may not use the page is told (it names who may).
    refusal_uk: str | Callable[[], str] | None = None

    def roles(self) -> Roles | None:
        """The roles that may use the page; None for an anonymous-only or public page."""
        if isinstance(self.audience, str):
            return None
        return self.audience() if callable(self.audience) else self.audience

    def allows(self, person: PersonView | None) -> bool:
        """Whether `person` (None: nobody signed in) may use the page."""
        if self.audience == PUBLIC:
            return True
        if self.audience == ANONYMOUS:
            return person is None
        roles = self.roles()
        return person is not None and roles is not None and person.role in roles

    def refusal(self) -> str:
        """The message for a person whose role may not use the page."""
        if callable(self.refusal_uk):
            return self.refusal_uk()
        return self.refusal_uk or f"Сторінка «{self.title}» недоступна для вашої ролі."


PAGES: tuple[PageSpec, ...] = (
    PageSpec(
        url_path="signin", title="Вхід", icon=":material/key:", script=VIEWS / "signin.py",
        section=ACCOUNT, audience=ANONYMOUS,
    ),
    PageSpec(
        url_path="tasks", title="Мої завдання", icon=":material/task:", script=VIEWS / "my_tasks.py",
        section=WORK, audience=DECIDERS,
        refusal_uk="«Мої завдання» — для тих, хто ухвалює рішення: адміністраторів ІОА та ОУО, служби "
        "підтримки, керівників закладів.",
    ),
    PageSpec(
        url_path="processes", title="Процеси", icon=":material/list_alt:", script=VIEWS / "processes.py",
        section=WORK, audience=PROCESS_WATCHERS,
    ),
    PageSpec(
        url_path="monitor", title="Моніторинг", icon=":material/monitoring:", script=VIEWS / "monitor.py",
        section=WORK, audience=monitor_viewers,
        refusal_uk="«Моніторинг» — для керівників і аналітиків, технічних адміністраторів і служби підтримки "
        "ІОА та адміністраторів ОУО.",
    ),
    PageSpec(
        url_path="process", title="Процес", icon=":material/timeline:", script=VIEWS / "process.py",
        section=WORK, audience=EVERY_ROLE,
    ),
    PageSpec(
        url_path="start", title="Почати процес", icon=":material/play_arrow:",
        script=VIEWS / "start_process.py", section=WORK, audience=process_starters, refusal_uk=_who_starts,
    ),
    PageSpec(
        url_path="absence", title="Відсутність", icon=":material/event_busy:", script=VIEWS / "absence.py",
        section=WORK, audience=MAY_BE_ABSENT,
        refusal_uk="Відсутність позначає адміністратор ІОА або ОУО; керівник закладу не передає своїх "
        "повноважень.",
    ),
    PageSpec(
        url_path="deputies", title="Заступники", icon=":material/group:", script=VIEWS / "deputies.py",
        section=WORK, audience=frozenset({R.DIRECTOR}),
        refusal_uk="«Заступники» — для керівника закладу освіти; заступник не може керувати заступниками.",
    ),
    PageSpec(
        url_path="branches", title="Філії", icon=":material/account_tree:", script=VIEWS / "branches.py",
        section=WORK, audience=frozenset({R.INSTITUTE_ADMIN}) | OUO_ADMINS,
        refusal_uk="«Філії» — для адміністраторів ОУО та ІОА: вони підтверджують опорні заклади філій.",
    ),
    PageSpec(
        url_path="directory", title="Довідник", icon=":material/search:", script=VIEWS / "directory.py",
        section=WORK, audience=EVERY_ROLE - {R.OIS_OPERATOR},
        refusal_uk="«Довідник» — для працівників ІОА, адміністраторів ОУО, керівників закладів і їхніх "
        "заступників.",
    ),
    PageSpec(
        url_path="support", title="Служба підтримки", icon=":material/support_agent:",
        script=VIEWS / "support.py", section=WORK, audience=frozenset({R.SUPPORT_AGENT, R.INSTITUTE_ADMIN}),
        refusal_uk="«Служба підтримки» — черга звернень для служби підтримки та технічних адміністраторів "
        "ІОА.",
    ),
    PageSpec(
        url_path="ois", title="ОІС", icon=":material/hub:", script=VIEWS / "ois_staff.py", section=WORK,
        audience=ois_staff,
        refusal_uk="«ОІС» — для технічних адміністраторів ІОА (рішення) та керівників і аналітиків "
        "(перегляд); перелік підключених ОІС відкритий усім на сторінці «Підключені ОІС».",
    ),
    PageSpec(
        url_path="ois-access", title="Доступ ОІС", icon=":material/share:", script=VIEWS / "ois_access.py",
        section=WORK, audience=frozenset({R.DIRECTOR}),
        refusal_uk="«Доступ ОІС» — для керівника закладу освіти: наразі весь функціонал доступний директору "
        "ЗО, тож заступник доступу ОІС не надає й не відкликає.",
    ),
    PageSpec(
        url_path="my-ois", title="Моя ОІС", icon=":material/apps:", script=VIEWS / "ois_mine.py",
        section=WORK, audience=frozenset({R.OIS_OPERATOR}),
        refusal_uk="«Моя ОІС» — для оператора ОІС, зареєстрованого з КЕП своєї компанії.",
    ),
    PageSpec(
        url_path="api-key", title="Ключ API", icon=":material/vpn_key:", script=VIEWS / "api_key.py",
        section=ACCOUNT, audience=key_holders,
        refusal_uk="Ключ API облікового запису показують керівнику закладу або адміністратору ОУО.",
    ),
    PageSpec(
        url_path="my-requests", title="Мої звернення", icon=":material/contact_support:",
        script=VIEWS / "my_requests.py", section=ACCOUNT, audience=EVERY_ROLE,
    ),
    PageSpec(
        url_path="ois-register", title="Реєстрація оператора ОІС", icon=":material/domain_add:",
        script=VIEWS / "ois_register.py", section=ACCOUNT, audience=ANONYMOUS,
    ),
    PageSpec(
        url_path="kep-check", title="Перевірити КЕП", icon=":material/verified_user:",
        script=VIEWS / "kep_check.py", section=ACCOUNT, audience=PUBLIC,
    ),
    PageSpec(
        url_path="ois-list", title="Підключені ОІС", icon=":material/apps:", script=VIEWS / "ois_public.py",
        section="Відкриті дані", audience=PUBLIC,
    ),
)  # fmt: skip

DEMO_PAGES: tuple[PageSpec, ...] = (
    PageSpec(
        url_path="mailbox", title="Пошта (демо)", icon=":material/mail:", script=DEMO / "mailbox.py",
        section=DEMO_SECTION, audience=INSTITUTE_STAFF,
        refusal_uk="Демонстраційна поштова скринька — лише для працівників ІОА: технічних адміністраторів, "
        "служби підтримки, керівників і аналітиків.",
    ),
)  # fmt: skip

LANDING = PageSpec(
    url_path="",
    title="АІКОМ",
    icon=":material/home:",
    script=VIEWS / "landing.py",
    section="",
    audience=PUBLIC,
)


def registered_pages(*, demo: bool | None = None) -> tuple[PageSpec, ...]:
    """Every page (with the demo pages when demo mode is on, or `demo` says so)."""
    if demo is None:
        from aikom.settings import get_settings

        demo = get_settings().demo_mode
    return PAGES + (DEMO_PAGES if demo else ())


def page(url_path: str) -> PageSpec:
    """The page at `url_path` (KeyError for an unknown one: a programming error)."""
    for spec in registered_pages():
        if spec.url_path == url_path:
            return spec
    raise KeyError(url_path)


def menu_for(person: PersonView | None) -> list[PageSpec]:
    """The pages `person` sees in the menu, in registry order."""
    return [spec for spec in registered_pages() if spec.allows(person)]
