"""`aikom support list --overdue`, the SLA in `list|show --json`, and `reply --canned`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from aikom.db import unit_of_work
from aikom.models import SupportRequest
from tests.cli.conftest import Aikom
from tests.cli.test_support_cli import _drop_in_mailbox, _people


def test_overdue_filter_sla_and_canned_replies_from_the_command_line(aikom: Aikom) -> None:
    agent, _admin, admin_email = _people()
    _drop_in_mailbox(admin_email, "Давнє питання")
    _drop_in_mailbox(admin_email, "Свіже питання")
    code, fetched = aikom("support", "fetch", "--as", str(agent))
    assert code == 0 and fetched["outcomes"] == {"opened": 2}
    old, fresh = fetched["request_ids"]
    with unit_of_work(None) as s:
        s.execute(
            update(SupportRequest)
            .where(SupportRequest.id == old)
            .values(created_at=datetime.now(UTC) - timedelta(days=30))
        )

    code, page = aikom("support", "list", "--as", str(agent), "--overdue")
    ids = [r["id"] for r in page["rows"]]
    assert code == 0 and old in ids and fresh not in ids
    row = next(r for r in page["rows"] if r["id"] == old)
    assert row["sla"]["breached"] and row["sla"]["resolution"]["status"] == "overdue"
    assert row["sla"]["first_response"]["left_seconds"] < 0

    code, replies = aikom("support", "canned")
    assert code == 0 and "need_edrpou" in [c["code"] for c in replies["canned"]]
    code, sent = aikom("support", "reply", str(fresh), "--canned", "received", "--as", str(agent))
    assert code == 0 and sent["ok"]
    code, shown = aikom("support", "show", str(fresh), "--as", str(agent))
    assert code == 0 and shown["request"]["sla"]["first_response"]["status"] == "met"
    assert shown["request"]["sla"]["resolution"]["status"] == "running"
    assert any(f"звернення №{fresh}" in m["body"] for m in shown["messages"] if m["direction"] == "out")

    code, refused = aikom("support", "reply", str(fresh), "--canned", "nope", "--as", str(agent))
    assert code == 1 and "Шаблон відповіді: «nope» не налаштовано" in refused["message"]
    code, refused = aikom("support", "reply", str(fresh), "--as", str(agent))
    assert code == 1 and "--canned" in refused["message"]
