"""«Служба підтримки»: the SLA shown per request, the «Прострочені» filter and a canned reply (AppTest)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from aikom.db import unit_of_work
from aikom.models import SupportMessage, SupportRequest
from tests.dashboard.conftest import DashboardWorld
from tests.dashboard.test_pages import _app, _texts
from tests.dashboard.test_support_pages import DESK, _file


def test_the_desk_sees_the_sla_filters_overdue_and_sends_a_canned_reply(
    dashboard_world: DashboardWorld,
) -> None:
    old = _file(dashboard_world, "hromada-admin-1", "Давнє звернення")
    fresh = _file(dashboard_world, "hromada-admin-1", "Свіже звернення")
    with unit_of_work() as session:
        session.execute(
            update(SupportRequest)
            .where(SupportRequest.id == old)
            .values(created_at=datetime.now(UTC) - timedelta(days=30))
        )
    at = _app(dashboard_world.persons["support"].person_id, DESK)
    assert not at.exception
    texts = _texts(at)
    assert "Свіже звернення" in texts and "Перша відповідь: залишилось" in texts
    assert "⏰ Перша відповідь: прострочено на" in texts

    at.checkbox(key="sq_overdue").check().run()
    assert not at.exception
    texts = _texts(at)
    assert f"#{old} · нове · Питання · Давнє звернення" in texts
    assert "Свіже звернення" not in texts

    at = _app(dashboard_world.persons["support"].person_id, DESK, request=str(fresh))
    assert "SLA — перша відповідь: залишилось" in _texts(at)
    at.selectbox(key="sq_canned").set_value("need_edrpou").run()
    assert not at.exception
    assert f"звернення №{fresh}" in at.text_area(key="sq_reply_text").value
    at.button(key="sq_reply_send").click().run()
    assert "Відповідь надіслано" in _texts(at)
    with unit_of_work() as session:
        bodies = session.scalars(
            select(SupportMessage.body).where(
                SupportMessage.request_id == fresh, SupportMessage.direction == "out"
            )
        ).all()
        assert any("код ЄДРПОУ" in body for body in bodies)
        assert session.get_one(SupportRequest, fresh).first_response_at is not None
