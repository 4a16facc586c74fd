"""`aikom signin …`: КЕП sign-in from the command line (challenge → sign → complete)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from aikom.cli.output import emit, fail, mask_rnokpp
from aikom.settings import get_settings

app = typer.Typer(help="Вхід із КЕП", no_args_is_help=True)


@app.command("challenge", help="Отримати одноразовий виклик для входу")
def challenge(
    out: Path = typer.Option(None, "--out", help="Куди записати текст виклику для підпису"),
    json_output: bool = typer.Option(False, "--json", help="Звіт у JSON"),
) -> None:
    """Issue a one-time challenge; sign its text (e.g. `aikom kep sign`) and complete the sign-in."""
    from aikom.db import unit_of_work
    from aikom.services.signin import issue_challenge

    with unit_of_work() as session:
        issued = issue_challenge(session=session, settings=get_settings())
    if out is not None:
        out.write_bytes(issued.content)
    payload = {
        "nonce": issued.nonce,
        "content": issued.content.decode("utf-8"),
        "expires_at": issued.expires_at.isoformat(),
        "file": str(out) if out else None,
    }
    emit(payload, json_output, f"Виклик: {issued.nonce} (дійсний до {issued.expires_at:%H:%M:%S} UTC)")


@app.command("complete", help="Увійти: перевірити підписаний виклик")
def complete(
    nonce: str = typer.Option(..., "--nonce", help="Одноразовий виклик"),
    signature: Path = typer.Option(..., "--signature", help="Файл підпису .p7s", exists=True, dir_okay=False),
    client: str = typer.Option("cli", "--client", help="Ідентифікатор клієнта для обмеження спроб"),
    base_key: str | None = typer.Option(
        None, "--base-key", help="Базовий ключ доступу (перший вхід до нового облікового запису)"
    ),
    json_output: bool = typer.Option(False, "--json", help="Звіт у JSON"),
) -> None:
    """Verify the signed challenge and sign in as the person the certificate names.

    A first sign-in can close a process step (a new director's activation): its run is woken after commit.
    """
    from aikom import commands
    from aikom.db import unit_of_work
    from aikom.services.signin import sign_in
    from aikom.services.trust import current_trust_list

    settings = get_settings()
    with unit_of_work() as session:
        result = sign_in(
            session=session,
            settings=settings,
            trust=current_trust_list(settings),
            nonce=nonce,
            signature=signature.read_bytes(),
            client_key=client,
            base_key=base_key,
        )
    payload = _shown(result.to_dict())
    if not result.ok:
        if json_output:
            emit(payload, True, "")
            raise typer.Exit(1)
        fail(result.message_uk, result.reason or "refused", False)
    # The decision is committed; a run that cannot be woken now is resumed by the reconciler.
    woken = commands.wake(result.decided_task_ids)
    resumed = [{"task_id": task_id, "resume": woken[task_id]} for task_id in result.decided_task_ids]
    from aikom.services.accounts import reveal_api_key

    with unit_of_work() as session:  # a new account's API key is shown once, to whoever signed in
        revealed = reveal_api_key(session=session, person_id=int(result.person_id or 0))
    text = f"Вхід виконано: особа № {result.person_id}" + (" (картку активовано)" if result.activated else "")
    if revealed is not None:
        text += f"\nКлюч API облікового запису (показується ЛИШЕ ОДИН РАЗ, збережіть його): {revealed.token}"
    api_key = {"public_id": revealed.public_id, "token": revealed.token} if revealed else None
    emit({**payload, "resumed": resumed, "api_key": api_key}, json_output, text)


def _shown(payload: dict[str, Any]) -> dict[str, Any]:
    """The sign-in result as a person sees it: the certificate's РНОКПП masked wherever it appears
    (personal data; a Ukrainian КЕП also carries it in the subject's serial number, «TINUA-…»)."""
    identity = payload.get("identity")
    if not isinstance(identity, dict) or not identity.get("rnokpp"):
        return payload
    rnokpp = str(identity["rnokpp"])
    masked = {
        key: value.replace(rnokpp, mask_rnokpp(rnokpp)) if isinstance(value, str) else value
        for key, value in identity.items()
    }
    return {**payload, "identity": masked}
