"""The `aikom` command line: one Typer app, one sub-app per area."""

from __future__ import annotations

import typer

from aikom.cli import absence as absence_cli
from aikom.cli import admin as admin_cli
from aikom.cli import audit as audit_cli
from aikom.cli import db as db_cli
from aikom.cli import decision as decision_cli
from aikom.cli import deputies as deputies_cli
from aikom.cli import imports as imports_cli
from aikom.cli import kep as kep_cli
from aikom.cli import keys as keys_cli
from aikom.cli import mail as mail_cli
from aikom.cli import monitor as monitor_cli
from aikom.cli import ois as ois_cli
from aikom.cli import org as org_cli
from aikom.cli import persons as persons_cli
from aikom.cli import pki as pki_cli
from aikom.cli import process as process_cli
from aikom.cli import reconcile as reconcile_cli
from aikom.cli import signin as signin_cli
from aikom.cli import support as support_cli
from aikom.cli import system as system_cli
from aikom.cli import tasks as tasks_cli
from aikom.cli import worker as worker_cli

app = typer.Typer(help="АІКОМ Back Office", no_args_is_help=True, pretty_exceptions_enable=False)
app.add_typer(db_cli.app, name="db")
app.add_typer(pki_cli.app, name="pki")
app.add_typer(kep_cli.app, name="kep")
app.add_typer(mail_cli.app, name="mail")
app.add_typer(signin_cli.app, name="signin")
app.add_typer(decision_cli.app, name="decision")
app.add_typer(keys_cli.app, name="keys")
app.add_typer(audit_cli.app, name="audit")
app.add_typer(imports_cli.app, name="import")
app.add_typer(org_cli.app, name="org")
app.add_typer(process_cli.app, name="process")
app.add_typer(tasks_cli.app, name="tasks")
app.add_typer(absence_cli.app, name="absence")
app.add_typer(admin_cli.app, name="admin")
app.add_typer(monitor_cli.app, name="monitor")
app.add_typer(persons_cli.app, name="persons")
app.add_typer(support_cli.app, name="support")
app.add_typer(deputies_cli.app, name="deputies")
app.add_typer(ois_cli.app, name="ois")
system_cli.register(app)
reconcile_cli.register(app)
worker_cli.register(app)


def main() -> None:
    """Entry point: run the app; a refusal or an unexpected failure is a message, never a traceback."""
    import logging
    import sys

    from aikom.core.errors import DomainError
    from aikom.settings import get_settings

    try:
        app()
    except DomainError as error:
        typer.echo(f"Помилка: {error.message_uk}", err=True)
        sys.exit(1)
    except Exception:
        log_dir = get_settings().data_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_dir / "cli.log", encoding="utf-8")
        logging.getLogger("aikom.cli").addHandler(handler)
        logging.getLogger("aikom.cli").exception("unexpected failure: %s", " ".join(sys.argv))
        typer.echo(f"Помилка: непередбачений збій. Подробиці записано до {log_dir / 'cli.log'}.", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
