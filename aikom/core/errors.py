"""Domain exceptions: one class per business rule, each with a reason code and a Ukrainian message.

Pages, the CLI and tasks show `message_uk` to people; nobody ever sees a traceback.
"""

from __future__ import annotations


class DomainError(Exception):
    """A business rule refused the request; nothing was changed."""

    code: str = "domain_error"

    def __init__(self, message_uk: str, **context: object) -> None:
        super().__init__(message_uk)
        self.message_uk = message_uk
        self.context = context

    def __reduce__(self) -> tuple[object, ...]:
        # Subclasses take other constructor arguments; rebuild from the attributes so a refusal survives
        # pickling (a Prefect step's failed state carries it from the task to the flow).
        return (_restore, (type(self), dict(self.__dict__)))


def _restore(cls: type[DomainError], state: dict[str, object]) -> DomainError:
    error = cls.__new__(cls)
    Exception.__init__(error, state.get("message_uk"))
    error.__dict__.update(state)
    return error


class ValidationFailed(DomainError):
    """Input does not satisfy a rule; the message names the field and the rule."""

    code = "validation_failed"

    def __init__(self, field: str, message_uk: str) -> None:
        super().__init__(message_uk, field=field)
        self.field = field


class NotFound(DomainError):
    """The named object does not exist."""

    code = "not_found"


class NotInScope(DomainError):
    """The target lies outside the actor's org subtree."""

    code = "not_in_scope"


class RoleNotAllowed(DomainError):
    """The actor's role may not do this."""

    code = "role_not_allowed"
