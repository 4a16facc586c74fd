"""`aikom support list|show|reply|note|assign|triage|resolve|close|fetch`: the desk from the command line."""

from __future__ import annotations

from email.message import EmailMessage as MimeMessage
from email.utils import make_msgid
from pathlib import Path

from aikom.db import unit_of_work
from aikom.models import PersonRole
from aikom.settings import get_settings
from tests import factories as f
from tests.cli.conftest import Aikom


def _people() -> tuple[int, int, str]:
    with unit_of_work(None) as s:
        units = f.cascade(s)
        agent = f.person(s, f.account(s, units["national"]), role=PersonRole.SUPPORT_AGENT)
        admin = f.person(s, f.account(s, units["hromada"]), role=PersonRole.HROMADA_ADMIN)
        return agent.id, admin.id, admin.email


def _drop_in_mailbox(sender: str, subject: str) -> None:
    """A message as the local SMTP sink stores it (the CLI reads the sink's mailbox)."""
    mailbox: Path = get_settings().mailbox_dir
    mailbox.mkdir(parents=True, exist_ok=True)
    message = MimeMessage()
    message["From"], message["To"], message["Subject"] = sender, "support.aikom@iea.gov.ua", subject
    message["Message-ID"] = make_msgid(domain="example.org")
    message.set_content("Прошу допомогти з входом.")
    number = len(list(mailbox.glob("*.eml"))) + 1
    (mailbox / f"{number:06d}.eml").write_bytes(message.as_bytes())


def test_the_desk_works_a_request_from_the_command_line(aikom: Aikom) -> None:
    agent, _admin, admin_email = _people()
    _drop_in_mailbox(admin_email, "Допомога з входом")
    code, fetched = aikom("support", "fetch", "--as", str(agent))
    assert code == 0 and fetched["outcomes"] == {"opened": 1}
    (request_id,) = fetched["request_ids"]
    code, again = aikom("support", "fetch", "--as", str(agent))
    assert code == 0 and again["read"] == 0

    code, page = aikom("support", "list", "--as", str(agent), "--state", "new")
    assert code == 0 and request_id in [r["id"] for r in page["rows"]]
    steps = [
        ("triage", str(request_id), "--decision", "accept", "--priority", "high"),
        ("assign", str(request_id)),
        ("note", str(request_id), "--text", "Перевірити сертифікат"),
        ("reply", str(request_id), "--text", "Оновіть сертифікат, будь ласка."),
        ("resolve", str(request_id), "--comment", "Сертифікат оновлено."),
        ("close", str(request_id)),
    ]
    for step in steps:
        code, result = aikom("support", *step, "--as", str(agent))
        assert code == 0 and result["ok"], (step, result)
    code, shown = aikom("support", "show", str(request_id), "--as", str(agent))
    assert code == 0 and shown["request"]["state"] == "closed" and shown["priority_label"] == "високий"
    kinds = [(m["direction"], m["visibility"]) for m in shown["messages"]]
    assert ("out", "internal") in kinds and kinds.count(("out", "public")) == 3  # ack, reply, resolution


def test_refusals_are_messages_naming_the_rule(aikom: Aikom) -> None:
    agent, admin, _ = _people()
    code, refused = aikom("support", "list", "--as", str(admin))
    assert code == 1 and "лише служба підтримки" in refused["message"]
    code, refused = aikom("support", "triage", "999999", "--decision", "maybe", "--as", str(agent))
    assert code == 1 and "Рішення: «maybe» — допустимо: accept, reject, ask_info" in refused["message"]
    code, refused = aikom("support", "show", "999999", "--as", str(agent))
    assert code == 1 and refused["message"] == "Звернення №999999 не знайдено."
