"""The ОІС access decision point as the central database's gateway sees it: a real uvicorn server on
loopback, following a real PostgreSQL database whose rows other transactions change under it."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine, delete, text, update
from sqlalchemy.orm import Session

from aikom.models import (
    AccessKey,
    Account,
    AccountState,
    DeactivationReason,
    GrantState,
    KeyState,
    Ois,
    OisCapability,
    OisGrant,
    OisPhase,
    OisState,
    OrgLevel,
)
from aikom.services import keys
from tests import factories
from tests.gateway.conftest import BAD_KEY_BURST, SECRET, Gateway

_n = itertools.count(1)


# --- rows, committed as other processes would commit them ----------------------------------------------


@dataclass
class School:
    account_id: int
    key_id: int
    token: str
    org_unit_id: int


def _commit(engine: Engine, change: Callable[[Session], object]) -> object:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        return change(session)


def _school(engine: Engine) -> School:
    def make(session: Session) -> School:
        national = factories.org_unit(session, level=OrgLevel.NATIONAL, name="Україна")
        unit = factories.org_unit(session, level=OrgLevel.SCHOOL, parent=national, name=f"Ліцей №{next(_n)}")
        account = factories.account(session, unit, AccountState.ACTIVE)
        issued = keys.issue_account_keys(session=session, account=account, actor_label="test")
        return School(account.id, issued.api.key_id, issued.api.token, unit.id)

    return _commit(engine, make)  # type: ignore[return-value]


def _ois(engine: Engine, state: OisState = OisState.CONNECTED) -> tuple[int, str]:
    client_id = f"ois-{uuid.uuid4().hex[:12]}"

    def make(session: Session) -> int:
        ois = Ois(
            system_name="Електронний журнал", company_name="ТОВ «Тест»", company_edrpou=factories.edrpou(),
            contact_email="ois@example.com", state=state, capability=OisCapability.RECEIVE,
            client_id=client_id,
        )  # fmt: skip
        session.add(ois)
        session.flush()
        return ois.id

    return _commit(engine, make), client_id  # type: ignore[return-value]


def _grant(
    engine: Engine, school: School, ois_id: int, data_sets: tuple[str, ...] = ("classes", "pupils")
) -> int:
    def make(session: Session) -> int:
        grant = OisGrant(
            ois_id=ois_id, school_org_unit_id=school.org_unit_id, api_key_id=school.key_id,
            data_sets=list(data_sets), capability=OisCapability.RECEIVE,
        )  # fmt: skip
        session.add(grant)
        session.flush()
        return grant.id

    return _commit(engine, make)  # type: ignore[return-value]


def _granted(engine: Engine, **grant: object) -> tuple[School, int, str]:
    school = _school(engine)
    ois_id, client_id = _ois(engine)
    _grant(engine, school, ois_id, **grant)  # type: ignore[arg-type]
    return school, ois_id, client_id


def _poll(gateway: Gateway, school: School, client_id: str, want: str, **request: str) -> str:
    """Ask every 20 ms until the answer's reason is `want` (a few seconds at most); the last reason."""
    deadline = time.monotonic() + 5.0
    while True:
        response = gateway.decide(school.token, client_id, **request)
        assert response.status_code in (200, 429), response.text  # 429: this ОІС's bucket is refilling
        reason = str(response.json()["reason"])
        if reason == want or time.monotonic() > deadline:
            return reason
        time.sleep(0.02)


# --- decisions ---------------------------------------------------------------------------------------


def test_a_granted_school_key_reads_its_granted_data_sets_only(gateway: Gateway, engine: Engine) -> None:
    school, _, client_id = _poll_ready(gateway, engine)
    assert gateway.reason(school.token, client_id, "classes") == "allowed"
    assert gateway.reason(school.token, client_id, "pupils") == "allowed"
    answer = gateway.decide(school.token, client_id, "staff").json()
    assert answer == {
        "allow": False,
        "reason": "no_grant",
        "message": "Заклад не надавав цій ОІС доступу до цього набору даних.",
    }
    assert gateway.reason(school.token, client_id, "no_such_set") == "unknown_data_set"
    # Another ОІС holding the same key has no grant of its own.
    _, other_client = _ois(engine)
    assert _poll(gateway, school, other_client, "no_grant") == "no_grant"


def _poll_ready(gateway: Gateway, engine: Engine) -> tuple[School, int, str]:
    school, ois_id, client_id = _granted(engine)
    assert _poll(gateway, school, client_id, "allowed") == "allowed"
    return school, ois_id, client_id


def test_write_is_denied_until_the_transmit_phase_is_in_force(gateway: Gateway, engine: Engine) -> None:
    school, ois_id, client_id = _poll_ready(gateway, engine)
    assert gateway.reason(school.token, client_id, "classes", "write") == "write_not_allowed_yet"
    assert gateway.reason(school.token, client_id, "pupils", "write") == "data_set_read_only"

    def phase(effective_from: datetime) -> Callable[[Session], int]:
        def add(session: Session) -> int:
            row = OisPhase(
                ois_id=ois_id, capability=OisCapability.RECEIVE_TRANSMIT, effective_from=effective_from
            )
            session.add(row)
            session.flush()
            return row.id

        return add

    # Dated next year: known to the decision point, not in force yet.
    phase_id = _commit(engine, phase(datetime.now(UTC) + timedelta(days=400)))
    time.sleep(0.3)  # the notification has had every chance to arrive: still denied
    assert gateway.reason(school.token, client_id, "classes", "write") == "write_not_allowed_yet"
    # Moved to a second from now: it comes in force then, with no further change to notify.
    soon = datetime.now(UTC) + timedelta(seconds=1)
    _commit(
        engine,
        lambda s: s.execute(update(OisPhase).where(OisPhase.id == phase_id).values(effective_from=soon)),
    )
    assert _poll(gateway, school, client_id, "allowed", data_set="classes", operation="write") == "allowed"
    assert datetime.now(UTC) >= soon
    assert gateway.reason(school.token, client_id, "pupils", "write") == "data_set_read_only"
    # A phase row removed (what cancelling a planned widening does) is forgotten at once.
    _commit(engine, lambda s: s.execute(delete(OisPhase).where(OisPhase.id == phase_id)))
    denied = "write_not_allowed_yet"
    assert _poll(gateway, school, client_id, denied, data_set="classes", operation="write") == denied


def test_a_revoked_grant_is_denied_at_once(gateway: Gateway, engine: Engine) -> None:
    school, ois_id, client_id = _poll_ready(gateway, engine)
    _commit(
        engine,
        lambda s: s.execute(
            update(OisGrant)
            .where(OisGrant.ois_id == ois_id)
            .values(
                state=GrantState.REVOKED, revoked_at=datetime.now(UTC), revoke_reason="на прохання закладу"
            )
        ),
    )
    assert _poll(gateway, school, client_id, "no_grant") == "no_grant"


def test_a_deactivated_key_is_denied_and_the_regenerated_one_allowed(
    gateway: Gateway, engine: Engine
) -> None:
    school, _, client_id = _poll_ready(gateway, engine)
    new = _commit(engine, lambda s: keys.regenerate_key(session=s, key_id=school.key_id, actor_label="test"))
    assert _poll(gateway, school, client_id, "key_deactivated") == "key_deactivated"
    successor = School(school.account_id, new.key_id, new.token, school.org_unit_id)  # type: ignore[attr-defined]
    assert _poll(gateway, successor, client_id, "allowed") == "allowed"


def test_a_suspended_key_is_denied(gateway: Gateway, engine: Engine) -> None:
    school, _, client_id = _poll_ready(gateway, engine)
    _commit(
        engine,
        lambda s: s.execute(
            update(AccessKey).where(AccessKey.id == school.key_id).values(state=KeyState.SUSPENDED)
        ),
    )
    assert _poll(gateway, school, client_id, "key_suspended") == "key_suspended"


@pytest.mark.parametrize(
    ("state", "reason"),
    [(OisState.SUSPENDED, "ois_suspended"), (OisState.DISCONNECTED, "ois_disconnected")],
)
def test_a_suspended_or_disconnected_ois_is_denied(
    gateway: Gateway, engine: Engine, state: OisState, reason: str
) -> None:
    school, ois_id, client_id = _poll_ready(gateway, engine)
    _commit(engine, lambda s: s.execute(update(Ois).where(Ois.id == ois_id).values(state=state)))
    assert _poll(gateway, school, client_id, reason) == reason


def test_an_ois_not_connected_is_denied(gateway: Gateway, engine: Engine) -> None:
    school = _school(engine)
    ois_id, client_id = _ois(engine, OisState.IN_REVIEW)
    _grant(engine, school, ois_id)
    assert _poll(gateway, school, client_id, "ois_not_connected") == "ois_not_connected"
    assert gateway.reason(school.token, "nobody-knows-me") == "ois_not_connected"


@pytest.mark.parametrize(
    ("state", "reason"),
    [(AccountState.DEACTIVATED, "account_deactivated"), (AccountState.SUSPENDED, "account_suspended")],
)
def test_a_deactivated_or_suspended_account_is_denied(
    gateway: Gateway, engine: Engine, state: AccountState, reason: str
) -> None:
    school, _, client_id = _poll_ready(gateway, engine)
    values: dict[str, object] = {"state": state}
    if state == AccountState.DEACTIVATED:
        values.update(deactivation_reason=DeactivationReason.LIQUIDATION, deactivated_at=datetime.now(UTC))
    _commit(
        engine, lambda s: s.execute(update(Account).where(Account.id == school.account_id).values(**values))
    )
    assert _poll(gateway, school, client_id, reason) == reason


@pytest.mark.parametrize("data_set", ["enrolment", "withdrawal", "transfer"])
def test_enrolment_withdrawal_and_transfer_are_never_allowed(
    gateway: Gateway, engine: Engine, data_set: str
) -> None:
    school, _, client_id = _poll_ready(gateway, engine)
    for operation in ("read", "write"):
        answer = gateway.decide(school.token, client_id, data_set, operation).json()
        assert answer["allow"] is False
        assert answer["reason"] == "reserved_data_set"
        assert "державному інтерфейсі" in answer["message"]


def test_keys_that_are_not_keys_or_not_known(gateway: Gateway, engine: Engine) -> None:
    school, _, client_id = _poll_ready(gateway, engine)
    assert gateway.reason("garbage", client_id) == "key_malformed"
    # One character changed: the checksum catches the typo.
    typo = school.token[:-1] + ("a" if school.token[-1] != "a" else "b")
    assert gateway.reason(typo, client_id) == "key_malformed"
    # Well formed, right checksum, never issued.
    from aikom.core.keys import generate_token

    assert gateway.reason(generate_token("api").token, client_id) == "key_unknown"
    # The school's base key never opens data to an ОІС.
    assert gateway.reason(generate_token("base").token, client_id) == "key_unknown"


def test_the_gateway_must_authenticate(gateway: Gateway, engine: Engine) -> None:
    school, _, client_id = _poll_ready(gateway, engine)
    for secret in (None, "wrong-secret", SECRET + "x"):
        response = gateway.decide(school.token, client_id, secret=secret)
        assert response.status_code == 401
        assert response.json()["reason"] == "gateway_unauthenticated"
        assert "X-Gateway-Secret" in response.json()["message"]
    bad = gateway.client.post(
        gateway.url + "/v1/decide", headers={"X-Gateway-Secret": SECRET, "X-Api-Key": school.token},
        content=b"{not json",
    )  # fmt: skip
    assert bad.status_code == 400
    assert "client_id" in bad.json()["message"]
    assert gateway.decide(school.token, client_id, operation="delete").status_code == 400
    huge = gateway.client.post(
        gateway.url + "/v1/decide", headers={"X-Gateway-Secret": SECRET, "X-Api-Key": school.token},
        json={"client_id": client_id, "data_set": "classes", "operation": "read", "padding": "x" * 100_000},
    )  # fmt: skip
    assert huge.status_code == 400
    # And after all that, the same key is still answered.
    assert gateway.reason(school.token, client_id) == "allowed"


def test_a_burst_of_garbage_keys_is_rate_limited_and_the_service_goes_on(
    gateway: Gateway, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    school, _, client_id = _poll_ready(gateway, engine)
    bystander, _, other_client = _poll_ready(gateway, engine)
    statuses: list[int] = []

    def burst(n: int) -> None:
        with httpx.Client(timeout=10.0) as client:
            gw = Gateway(gateway.url, client)
            for i in range(n):
                statuses.append(gw.decide(f"aika_{i:016d}_garbage", client_id).status_code)

    workers = [threading.Thread(target=burst, args=(500,)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(statuses) == 2000
    assert set(statuses) <= {200, 429}
    assert statuses.count(429) > 1000
    assert statuses.count(200) >= BAD_KEY_BURST
    # Another ОІС is not held back by this one's burst; this one's good key works once its bucket refills.
    assert gateway.reason(bystander.token, other_client) == "allowed"
    assert _poll(gateway, school, client_id, "allowed") == "allowed"
    metrics = gateway.metrics()
    assert 'aikom_ois_requests_refused_total{status="429"}' in metrics


def test_metrics_count_the_decisions(gateway: Gateway, engine: Engine) -> None:
    school, _, client_id = _poll_ready(gateway, engine)

    def count(outcome: str, reason: str) -> float:
        for line in gateway.metrics().splitlines():
            if line.startswith(f'aikom_ois_decisions_total{{outcome="{outcome}",reason="{reason}"}}'):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    allowed, reserved = count("allow", "allowed"), count("deny", "reserved_data_set")
    for _ in range(3):
        assert gateway.reason(school.token, client_id) == "allowed"
    assert gateway.reason(school.token, client_id, "transfer") == "reserved_data_set"
    assert count("allow", "allowed") == allowed + 3
    assert count("deny", "reserved_data_set") == reserved + 1
    text = gateway.metrics()
    assert "aikom_ois_decision_seconds_bucket" in text
    assert 'aikom_ois_snapshot_entries{what="grants"}' in text


def test_denials_are_logged_without_the_secret(
    gateway: Gateway, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    school, _, client_id = _poll_ready(gateway, engine)
    public_id = school.token.split("_")[1]
    secret_part = school.token.split("_")[2]
    with caplog.at_level("INFO", logger="aikom.gateway"):
        assert gateway.reason(school.token, client_id, "staff") == "no_grant"
        deadline = time.monotonic() + 2
        while "no_grant" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.02)
    assert f"key={public_id}" in caplog.text
    assert "reason=no_grant" in caplog.text
    assert secret_part not in caplog.text
    assert school.token not in caplog.text


def test_a_lost_listening_connection_is_made_again_and_nothing_is_missed(
    gateway: Gateway, engine: Engine
) -> None:
    school, ois_id, client_id = _poll_ready(gateway, engine)
    with engine.begin() as conn:
        killed = (
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND application_name = 'aikom-ois-gateway'"
                )
            )
            .scalars()
            .all()
        )
        # While nobody listens, the grant is revoked: only the reload after reconnecting can see it.
        conn.execute(update(OisGrant).where(OisGrant.ois_id == ois_id).values(state=GrantState.REVOKED))
    assert killed and all(killed)
    assert _poll(gateway, school, client_id, "no_grant") == "no_grant"


def test_the_periodic_full_reload_catches_a_change_nobody_announced(
    database_url: str, engine: Engine
) -> None:
    from aikom.gateway.snapshot import SnapshotListener

    school, ois_id, _ = _granted(engine)
    listener = SnapshotListener(database_url, full_reload_seconds=1.0)
    listener.start()
    try:
        assert (school.key_id, ois_id) in listener.snapshot.grants
        with engine.begin() as conn:
            # Triggers off for this transaction (as a restore or a manual fix could do): no NOTIFY.
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(update(OisGrant).where(OisGrant.ois_id == ois_id).values(state=GrantState.REVOKED))
        deadline = time.monotonic() + 10
        while (school.key_id, ois_id) in listener.snapshot.grants and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (school.key_id, ois_id) not in listener.snapshot.grants
    finally:
        listener.stop()
