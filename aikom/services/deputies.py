"""A director's deputies as the «Заступники» page and `aikom deputies` show them (DESIGN §3 item 3).

Only a director manages deputies: a deputy lists and deactivates nobody (a director does not pass
powers on). Appointing one is the `deputy` process; deactivating one is `provisioning.deactivate_deputy`.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from aikom.core.actor import Actor
from aikom.core.errors import RoleNotAllowed
from aikom.models import Person, PersonRole, PersonState
from aikom.services.provisioning import DeputyView, deputies_of, requesting_person

# A deputy's card as their director reads it.
DEPUTY_STATE_UK = {
    PersonState.PENDING: "очікує першого входу з КЕП",
    PersonState.ACTIVE: "активний",
    PersonState.INACTIVE: "деактивований",
}


class DeputiesForDirectorsOnly(RoleNotAllowed):
    """Deputies are managed by the school's director, never by a deputy or anybody else."""

    code = "deputies_for_directors_only"

    def __init__(self, person: Person) -> None:
        super().__init__(
            "Заступники: керувати заступниками (переглядати, призначати, деактивувати) може лише керівник "
            "закладу освіти; заступник не може керувати заступниками.",
            person_id=person.id,
        )


def deputies_for(*, session: Session, actor: Actor) -> list[DeputyView]:
    """The deputies (current and former) of the acting director's school, newest first."""
    director = requesting_person(session, actor)
    if director.role != PersonRole.DIRECTOR:
        raise DeputiesForDirectorsOnly(director)
    return deputies_of(session=session, director_id=director.id)
