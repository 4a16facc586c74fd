"""`aikom mail …`: the outbox, its delivery and the local SMTP sink's mailbox."""

from __future__ import annotations

import time

import typer

from aikom.cli.output import emit
from aikom.settings import get_settings

app = typer.Typer(help="Пошта: черга листів і локальна поштова скринька", no_args_is_help=True)


@app.command("list", help="Листи, які отримала локальна поштова скринька")
def list_mail(json_output: bool = typer.Option(False, "--json", help="Звіт у JSON")) -> None:
    """List the messages the local SMTP sink received."""
    from aikom.mail.sink import read_mailbox

    messages = read_mailbox(get_settings().mailbox_dir)
    human = "\n".join(f"{m.date}  {m.to}  {m.subject}" for m in messages) or "Поштова скринька порожня"
    emit([m.as_dict() for m in messages], json_output, human)


@app.command("outbox", help="Черга листів: скільки надіслано, очікує, не доставлено; останні листи")
def outbox(
    limit: int = typer.Option(100, "--limit", help="Скільки останніх листів показати"),
    json_output: bool = typer.Option(False, "--json", help="Звіт у JSON"),
) -> None:
    """The outbox: messages per delivery state and the latest ones (never their contents)."""
    from aikom.db import unit_of_work
    from aikom.services.outbox import outbox_summary

    with unit_of_work() as session:
        summary = outbox_summary(session=session, limit=limit)
    counts = summary.counts
    human = [f"Надіслано: {counts['sent']}, очікує: {counts['pending']}, не доставлено: {counts['failed']}"]
    human += [
        f"  №{m.id} {m.state} {m.to_address} ({m.template}) {m.last_error or ''}" for m in summary.messages
    ]
    emit(summary.model_dump(), json_output, "\n".join(human))


@app.command("sink", help="Запустити локальну SMTP-скриньку")
def sink() -> None:
    """Run the local SMTP sink in the foreground (Ctrl-C stops it)."""
    from aikom.mail.sink import start_sink

    settings = get_settings()
    controller = start_sink(settings.mailbox_dir, settings.smtp_host, settings.smtp_port)
    typer.echo(f"SMTP-скринька слухає {settings.smtp_host}:{settings.smtp_port}")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


@app.command("deliver", help="Надіслати листи з черги")
def deliver(
    loop: bool = typer.Option(False, "--loop", help="Доставляти безперервно"),
    interval: float = typer.Option(2.0, "--interval", help="Пауза між проходами, с"),
    json_output: bool = typer.Option(False, "--json", help="Звіт у JSON"),
) -> None:
    """Deliver due outbox messages over SMTP (once, or continuously with --loop)."""
    from aikom.db import session_factory
    from aikom.mail.delivery import deliver_pending_sync

    settings = get_settings()
    while True:
        report = deliver_pending_sync(settings, session_factory())
        if not loop:
            emit(
                vars(report),
                json_output,
                f"Надіслано: {report.sent}, відкладено: {report.deferred}, не доставлено: {report.failed}",
            )
            return
        time.sleep(interval)
