"""The support desk reads its mailbox over IMAP — against a real Dovecot on loopback
(tests/mail/imap_server.py): an email opens a request, a reply tagged `[АІКОМ #N]` lands in it, an
auto-reply opens nothing, reading twice (or after a restart, or after the folder was recreated) duplicates
nothing, taken messages are flagged \\Seen or moved away only once the intake has them, and a server that
cannot be reached or refuses the login is reported in Ukrainian, with nothing lost: the next round reads
what this one could not."""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage as MimeMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from aikom.db import unit_of_work
from aikom.mail import support_inbox
from aikom.models import PersonRole, SupportMailboxCursor, SupportMessage, SupportRequest
from aikom.services import support_imap
from aikom.services.support_imap import ImapConfig, ImapMailbox, MailSourceUnavailable, encode_mailbox
from aikom.settings import Settings, get_settings
from tests import factories as f
from tests.mail.imap_server import ImapServer, start_dovecot

SUPPORT = "support.aikom@iea.gov.ua"


@pytest.fixture
def imap() -> Iterator[ImapServer]:
    server = start_dovecot()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Desk:
    url: str
    data_dir: Path
    imap: ImapServer
    agent_id: int
    requester_email: str
    requester_id: int

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": self.url,
            "data_dir": self.data_dir,
            "support_mail_source": "imap",
            "support_imap_host": "127.0.0.1",
            "support_imap_port": self.imap.port,
            "support_imap_tls": "none",
            "support_imap_user": self.imap.user,
            "support_imap_password": self.imap.password,
            "support_imap_timeout_seconds": 10,
        }
        return Settings(**{**values, **overrides})

    def fetch(self, **overrides: Any) -> support_inbox.FetchReport:
        return support_inbox.fetch(db_url=self.url, settings=self.settings(**overrides))


@pytest.fixture
def desk(database_url: str, tmp_path: Path, imap: ImapServer) -> Desk:
    tag = uuid.uuid4().hex[:8]
    with unit_of_work(database_url) as session:
        units = f.cascade(session)
        agent = f.person(session, f.account(session, units["national"]), role=PersonRole.SUPPORT_AGENT)
        admin = f.person(
            session,
            f.account(session, units["hromada"]),
            role=PersonRole.HROMADA_ADMIN,
            email=f"osvita-{tag}@hromada.example.org",
        )
        return Desk(database_url, tmp_path, imap, agent.id, admin.email, admin.id)


def _mail(sender: str, subject: str, body: str, **headers: str) -> bytes:
    message = MimeMessage()
    message["From"] = sender
    message["To"] = SUPPORT
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="hromada.example.org")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _requests_of(url: str, sender: str) -> list[SupportRequest]:
    with unit_of_work(url) as session:
        rows = session.scalars(
            select(SupportRequest).where(SupportRequest.requester_email == sender).order_by(SupportRequest.id)
        ).all()
        session.expunge_all()
        return list(rows)


def _inbound(url: str, request_id: int) -> list[str]:
    with unit_of_work(url) as session:
        return list(
            session.scalars(
                select(SupportMessage.body)
                .where(SupportMessage.request_id == request_id, SupportMessage.direction == "in")
                .order_by(SupportMessage.id)
            ).all()
        )


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_email_opens_a_request_and_a_tagged_reply_lands_in_it(desk: Desk) -> None:
    desk.imap.append(
        _mail(f"Відділ освіти <{desk.requester_email}>", "Не відкривається кабінет", "Після входу — помилка.")
    )
    report = desk.fetch()
    assert report.outcomes == {"opened": 1}
    (request_id,) = report.request_ids
    (request,) = _requests_of(desk.url, desk.requester_email)
    assert request.id == request_id and request.requester_person_id == desk.requester_id
    assert request.channel == "email" and request.subject == "Не відкривається кабінет"
    # Read with BODY.PEEK: nothing is flagged before the intake's batch is committed.
    assert "\\Seen" not in desk.imap.messages()[1]

    # The requester answers by subject tag only (a client that drops In-Reply-To): the same request.
    desk.imap.append(
        _mail(
            desk.requester_email, f"Re: [АІКОМ #{request_id}] Не відкривається кабінет", "Вже працює, дякую."
        )
    )
    report = desk.fetch()
    assert report.outcomes == {"appended": 1} and report.request_ids == [request_id]
    assert _inbound(desk.url, request_id) == ["Після входу — помилка.", "Вже працює, дякую."]
    assert len(_requests_of(desk.url, desk.requester_email)) == 1
    # The first message, committed last round, is now flagged \Seen; the answer will be next round.
    flags = desk.imap.messages()
    assert "\\Seen" in flags[1] and "\\Seen" not in flags[2]

    # Reading again takes nothing new, duplicates nothing, and flags the answer.
    assert desk.fetch().read == 0
    assert all("\\Seen" in f for f in desk.imap.messages().values())
    assert _inbound(desk.url, request_id) == ["Після входу — помилка.", "Вже працює, дякую."]


def test_an_auto_reply_opens_no_request(desk: Desk) -> None:
    away = f"away-{uuid.uuid4().hex[:6]}@example.org"
    desk.imap.append(
        _mail(away, "Автовідповідь: я у відпустці", "Повернуся 10.12.", Auto_Submitted="auto-replied")
    )
    desk.imap.append(_mail(desk.requester_email, "Питання про ключ API", "Де знайти ключ API?"))
    report = desk.fetch()
    assert report.outcomes == {"auto_reply": 1, "opened": 1}
    assert _requests_of(desk.url, away) == []
    assert len(_requests_of(desk.url, desk.requester_email)) == 1


def test_reading_twice_after_a_restart_or_a_new_uidvalidity_duplicates_nothing(desk: Desk) -> None:
    folder = "Support"
    desk.imap.create_folder(folder)
    first = [_mail(desk.requester_email, f"Питання {n}", f"Текст {n}") for n in range(3)]
    for raw in first:
        desk.imap.append(raw, folder)
    assert desk.fetch(support_imap_folder=folder).outcomes == {"opened": 3}
    # A second round, and a fresh source object (a restarted process): the cursor says all was taken.
    assert desk.fetch(support_imap_folder=folder).read == 0
    source = ImapMailbox(ImapConfig.from_settings(desk.settings(support_imap_folder=folder)))
    assert support_inbox.fetch(db_url=desk.url, settings=desk.settings(), source=source).read == 0

    # The folder is recreated (a new UIDVALIDITY, UIDs from 1 again) with the old messages and a new one:
    # only the new one opens a request; the old ones are recognised by Message-ID.
    client = desk.imap.client()
    try:
        assert client.delete(folder)[0] == "OK"
    finally:
        client.logout()
    desk.imap.create_folder(folder)
    for raw in [*first, _mail(desk.requester_email, "Питання 3", "Текст 3")]:
        desk.imap.append(raw, folder)
    report = desk.fetch(support_imap_folder=folder)
    assert report.outcomes == {"duplicate": 3, "opened": 1}
    subjects = [r.subject for r in _requests_of(desk.url, desk.requester_email)]
    assert subjects == ["Питання 0", "Питання 1", "Питання 2", "Питання 3"]
    assert desk.fetch(support_imap_folder=folder).read == 0


def test_a_folder_read_for_the_first_time_takes_only_its_recent_mail(
    desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    folder = f"Old-{uuid.uuid4().hex[:6]}"
    desk.imap.create_folder(folder)
    long_ago = datetime.now(UTC) - timedelta(days=60)
    for n in range(2):
        desk.imap.append(_mail(desk.requester_email, f"Давнє {n}", "Давно вирішено."), folder, long_ago)
    desk.imap.append(_mail(desk.requester_email, "Нове питання", "Не бачу школу."), folder)
    with caplog.at_level(logging.INFO, logger=support_imap.__name__):
        assert desk.fetch(support_imap_folder=folder).outcomes == {"opened": 1}
    assert [r.subject for r in _requests_of(desk.url, desk.requester_email)] == ["Нове питання"]
    assert "1 messages of the last 14 days taken, 2 older ones left as they are" in caplog.text
    # What comes later is read after the cursor as always; the old ones stay where they were, unread
    # (the taken one is flagged \\Seen at the start of the next round).
    desk.imap.append(_mail(desk.requester_email, "Ще питання", "Звіт не формується."), folder)
    assert desk.fetch(support_imap_folder=folder).outcomes == {"opened": 1}
    seen = {uid: "\\Seen" in flags for uid, flags in desk.imap.messages(folder).items()}
    assert [seen[uid] for uid in sorted(seen)] == [False, False, True, False]
    # Moving taken messages away leaves the old ones in the folder too.
    moved = f"Moved-{uuid.uuid4().hex[:6]}"
    desk.imap.create_folder(moved)
    desk.imap.append(_mail(desk.requester_email, "Давнє з іншої скриньки", "Давно."), moved, long_ago)
    desk.imap.append(_mail(desk.requester_email, "Свіже", "Сьогодні."), moved)
    done = f"Done-{uuid.uuid4().hex[:6]}"
    move = {"support_imap_folder": moved, "support_imap_after_read": "move", "support_imap_done_folder": done}
    assert desk.fetch(**move).outcomes == {"opened": 1}
    assert desk.fetch(**move).read == 0  # the next round moves the taken one away
    assert len(desk.imap.messages(moved)) == 1 and len(desk.imap.messages(done)) == 1
    # With the window off, a folder read for the first time is read whole.
    whole = f"Whole-{uuid.uuid4().hex[:6]}"
    desk.imap.create_folder(whole)
    desk.imap.append(_mail(desk.requester_email, "Давнє питання", "Ще актуальне."), whole, long_ago)
    report = desk.fetch(support_imap_folder=whole, support_imap_first_read_days=0)
    assert report.outcomes == {"opened": 1}


def test_taken_messages_are_moved_to_a_folder_once_committed(desk: Desk) -> None:
    done = "Оброблені звернення"  # not ASCII: sent in modified UTF-7
    desk.imap.append(_mail(desk.requester_email, "Звіт не формується", "Натискаю — нічого."))
    assert desk.fetch(support_imap_after_read="move", support_imap_done_folder=done).outcomes == {"opened": 1}
    assert len(desk.imap.messages()) == 1  # still in INBOX until the next round
    desk.imap.append(_mail(desk.requester_email, "Ще одне питання", "Друге."))
    report = desk.fetch(support_imap_after_read="move", support_imap_done_folder=done)
    assert report.outcomes == {"opened": 1}
    assert list(desk.imap.messages()) == [2]  # the first moved away, the second waits for the next round
    assert len(desk.imap.messages(encode_mailbox(done))) == 1
    assert sorted(desk.imap.folders()) == ["INBOX", done]  # the name as Dovecot decodes it
    assert desk.fetch(support_imap_after_read="move", support_imap_done_folder=done).read == 0
    assert desk.imap.messages() == {}
    assert len(desk.imap.messages(encode_mailbox(done))) == 2
    assert len(_requests_of(desk.url, desk.requester_email)) == 2


def test_a_refused_login_is_said_in_ukrainian_and_nothing_is_lost(
    desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    desk.imap.append(_mail(desk.requester_email, "Не приходить лист", "Лист активації не приходить."))
    wrong = "not-the-password-" + uuid.uuid4().hex[:6]
    caplog.set_level(logging.DEBUG)
    with pytest.raises(MailSourceUnavailable) as refused:
        desk.fetch(support_imap_password=wrong)
    message = refused.value.message_uk
    assert f"відмовив у вході користувачу «{desk.imap.user}»" in message
    assert "невірне ім’я користувача або пароль" in message
    assert wrong not in message and wrong not in caplog.text
    assert _requests_of(desk.url, desk.requester_email) == []
    # The password is fixed: the next round reads the message.
    assert desk.fetch().outcomes == {"opened": 1}


def test_an_unreachable_server_is_said_in_ukrainian(desk: Desk) -> None:
    port = _dead_port()
    with pytest.raises(MailSourceUnavailable) as refused:
        desk.fetch(support_imap_port=port)
    assert refused.value.message_uk.startswith(f"Поштовий сервер IMAP 127.0.0.1:{port} недоступний")
    with pytest.raises(MailSourceUnavailable) as unknown:
        desk.fetch(support_imap_host="imap.no-such-host.invalid")
    assert "«imap.no-such-host.invalid» не знайдено" in unknown.value.message_uk
    with pytest.raises(MailSourceUnavailable) as missing:
        desk.fetch(support_imap_folder="Немає такої")
    assert "Папку «Немає такої» не знайдено" in missing.value.message_uk


def test_tls_and_starttls_with_the_servers_ca(desk: Desk) -> None:
    desk.imap.append(_mail(desk.requester_email, "Через TLS", "Перший."))
    ca = desk.imap.ca_file
    imaps = {"support_imap_tls": "ssl", "support_imap_port": desk.imap.ssl_port}
    # Without the private CA the certificate is not trusted: said so, nothing read.
    with pytest.raises(MailSourceUnavailable) as untrusted:
        desk.fetch(**imaps)
    assert "захищене з’єднання (TLS)" in untrusted.value.message_uk
    assert "сертифікат сервера не пройшов перевірку" in untrusted.value.message_uk
    assert desk.fetch(**imaps, support_imap_ca_file=ca).outcomes == {"opened": 1}
    desk.imap.append(_mail(desk.requester_email, "Через STARTTLS", "Другий."))
    assert desk.fetch(support_imap_tls="starttls", support_imap_ca_file=ca).outcomes == {"opened": 1}
    assert len(_requests_of(desk.url, desk.requester_email)) == 2


def test_the_whole_system_reads_imap_when_configured(
    desk: Desk, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """`AIKOM_SUPPORT_MAIL_SOURCE=imap` and the IMAP settings: the reconciler pass (what `aikom up` runs) and
    `aikom support fetch` read the mailbox; a refused login is one Ukrainian line, never a traceback."""
    from typer.testing import CliRunner

    from aikom.cli.main import app
    from aikom.services.reconcile import reconcile

    dead = f"http://127.0.0.1:{_dead_port()}/api"
    for name, value in {
        "DATABASE_URL": desk.url,
        "DATA_DIR": str(desk.data_dir),
        "SUPPORT_MAIL_SOURCE": "imap",
        "SUPPORT_IMAP_HOST": "127.0.0.1",
        "SUPPORT_IMAP_PORT": str(desk.imap.port),
        "SUPPORT_IMAP_TLS": "none",
        "SUPPORT_IMAP_USER": desk.imap.user,
        "SUPPORT_IMAP_PASSWORD": desk.imap.password,
        "PREFECT_API_URL": dead,  # the process engine is down: the pass does its database part
    }.items():
        monkeypatch.setenv(f"AIKOM_{name}", value)
    get_settings.cache_clear()
    try:
        desk.imap.append(_mail(desk.requester_email, "Через звірку", "Лист для звірки."))
        assert reconcile(db_url=desk.url, api_url=dead).support_mail == {"opened": 1}
        assert reconcile(db_url=desk.url, api_url=dead).support_mail == {}

        desk.imap.append(_mail(desk.requester_email, "Через CLI", "Лист для CLI."))
        result = CliRunner().invoke(app, ["support", "fetch", "--as", str(desk.agent_id), "--json"])
        assert result.exit_code == 0, result.output
        assert '"opened": 1' in result.stdout

        # The mailbox password changes on the server: the pass goes on, the error is one Ukrainian line.
        desk.imap.set_password("changed-" + uuid.uuid4().hex[:6])
        desk.imap.append(_mail(desk.requester_email, "Після зміни пароля", "Третій."))
        caplog.set_level(logging.WARNING)
        failed_pass = reconcile(db_url=desk.url, api_url=dead)
        assert failed_pass.support_mail == {}
        assert (
            failed_pass.support_mail_error is not None
            and "відмовив у вході" in failed_pass.support_mail_error
        )
        warning = next(r for r in caplog.records if "support mail not read" in r.getMessage())
        assert "відмовив у вході" in warning.getMessage() and warning.exc_info is None
        result = CliRunner().invoke(app, ["support", "fetch", "--as", str(desk.agent_id)])
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert "Помилка: Поштовий сервер IMAP" in result.output and "відмовив у вході" in result.output
        result = CliRunner().invoke(app, ["reconcile"])
        assert result.exit_code == 0 and "Traceback" not in result.output
        assert "Пошту служби підтримки не прочитано: Поштовий сервер IMAP" in result.output
        assert len(_requests_of(desk.url, desk.requester_email)) == 2

        # The administrator sets the new password: the message waiting on the server is read.
        monkeypatch.setenv("AIKOM_SUPPORT_IMAP_PASSWORD", desk.imap.password)
        get_settings.cache_clear()
        assert reconcile(db_url=desk.url, api_url=dead).support_mail == {"opened": 1}
        assert len(_requests_of(desk.url, desk.requester_email)) == 3
    finally:
        get_settings.cache_clear()


def test_a_lost_cursor_rereads_without_duplicates(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    """Several FETCH commands and several intake batches per round; with the cursor gone (a restored
    database) the whole folder is read again and the intake takes nothing twice."""
    monkeypatch.setattr(support_imap, "FETCH_CHUNK", 2)
    for n in range(5):
        desk.imap.append(_mail(desk.requester_email, f"Лист {n}", f"Текст {n}"))
    settings = desk.settings()
    report = support_inbox.fetch(db_url=desk.url, settings=settings, batch_size=2)
    assert report.outcomes == {"opened": 5}
    cursor_key = ImapMailbox(ImapConfig.from_settings(settings)).cursor_key
    with unit_of_work(desk.url) as session:
        position = session.scalar(
            select(SupportMailboxCursor.position).where(SupportMailboxCursor.source == cursor_key)
        )
        assert position is not None and position.endswith(":5")
        session.execute(delete(SupportMailboxCursor).where(SupportMailboxCursor.source == cursor_key))
    report = support_inbox.fetch(db_url=desk.url, settings=settings, batch_size=2)
    assert report.outcomes == {"duplicate": 5}
    with unit_of_work(desk.url) as session:
        count = session.scalar(
            select(func.count())
            .select_from(SupportRequest)
            .where(SupportRequest.requester_email == desk.requester_email)
        )
    assert count == 5


def test_a_connection_lost_mid_read_loses_nothing(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server goes away between two messages of a round: what was committed stays, the cursor stays
    at the last committed batch, and the next round (server back) reads the rest — each message once."""
    monkeypatch.setattr(support_imap, "FETCH_CHUNK", 1)  # one message per FETCH: the drop is noticed
    for n in range(5):
        desk.imap.append(_mail(desk.requester_email, f"Лист {n}", f"Текст {n}"))
    inner = ImapMailbox(ImapConfig.from_settings(desk.settings()))

    class ServerGoesAway:
        name, cursor_key = inner.name, inner.cursor_key

        def read_after(self, position: str | None) -> Iterator[support_inbox.RawMail]:
            for count, mail in enumerate(inner.read_after(position)):
                if count == 2:
                    desk.imap.halt()  # the server stops once the third message is fetched, before the fourth
                yield mail

    with pytest.raises(MailSourceUnavailable) as dropped:
        support_inbox.fetch(db_url=desk.url, settings=desk.settings(), source=ServerGoesAway(), batch_size=2)
    assert "обірвалося" in dropped.value.message_uk
    assert [r.subject for r in _requests_of(desk.url, desk.requester_email)] == ["Лист 0", "Лист 1"]

    desk.imap.launch()
    assert desk.fetch().outcomes == {"opened": 3}
    subjects = [r.subject for r in _requests_of(desk.url, desk.requester_email)]
    assert subjects == [f"Лист {n}" for n in range(5)]


def test_a_failing_move_never_holds_up_the_intake(desk: Desk, caplog: pytest.LogCaptureFixture) -> None:
    """The done folder cannot be created (a name the server refuses): the new mail is read all the same,
    the taken messages stay where they are, and a warning says why; with a good folder they are moved."""
    bad = {"support_imap_after_read": "move", "support_imap_done_folder": "~Оброблені"}
    desk.imap.append(_mail(desk.requester_email, "Перше", "Перший лист."))
    assert desk.fetch(**bad).outcomes == {"opened": 1}
    desk.imap.append(_mail(desk.requester_email, "Друге", "Другий лист."))
    caplog.set_level(logging.WARNING)
    assert desk.fetch(**bad).outcomes == {"opened": 1}
    warning = next(r.getMessage() for r in caplog.records if "not flagged/moved" in r.getMessage())
    assert "Не вдалося створити папку «~Оброблені» для прочитаних листів" in warning
    assert sorted(desk.imap.messages()) == [1, 2]
    good = {"support_imap_after_read": "move", "support_imap_done_folder": "Оброблені"}
    assert desk.fetch(**good).read == 0
    assert desk.imap.messages() == {} and len(desk.imap.messages(encode_mailbox("Оброблені"))) == 2
    assert len(_requests_of(desk.url, desk.requester_email)) == 2


def test_a_password_in_cyrillic_logs_in_with_auth_plain(desk: Desk) -> None:
    desk.imap.set_password("Пароль-скриньки-№1")
    desk.imap.append(_mail(desk.requester_email, "Кирилиця в паролі", "Лист."))
    assert desk.fetch(support_imap_password="Пароль-скриньки-№1").outcomes == {"opened": 1}
    with pytest.raises(MailSourceUnavailable) as refused:
        desk.fetch(support_imap_password="Пароль-скриньки-№2")
    assert "відмовив у вході" in refused.value.message_uk and "№2" not in refused.value.message_uk
