"""Reading the support desk's mail: a mail source yields raw messages after a cursor; `fetch` ingests each
addressed to the support address once, in batches (a transaction per batch, written in bulk by
`support_mail.ingest_many`; a batch that fails is taken again message by message, a savepoint each; the
intake is idempotent by Message-ID, and the cursor moves with the batch, in the same transaction).

A source is a small interface (`MailSource`): the local SMTP sink's mailbox folder now; an IMAP folder
(UIDs as positions) fits the same shape. `Settings.support_mail_source` chooses it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from aikom.db import unit_of_work
from aikom.models import IntakeOutcome, SupportIntake, SupportMailboxCursor
from aikom.services import support_mail
from aikom.settings import Settings, get_settings

log = logging.getLogger(__name__)

# Messages per transaction (see `fetch`): the intake writes a batch with a handful of statements.
BATCH_SIZE = 200


@dataclass(frozen=True)
class RawMail:
    """One message of a source and its position there."""

    position: str
    raw: bytes


class MailSource(Protocol):
    """Where inbound mail is read from."""

    name: str  # recorded with each message taken ("sink", "imap")
    cursor_key: str  # which cursor keeps its position (one per mailbox)

    def read_after(self, position: str | None) -> Iterator[RawMail]:
        """Messages after `position` (None: from the start), in order."""
        ...


class SinkMailbox:
    """The local SMTP sink's mailbox folder: `<n>.eml` files, numbered in arrival order."""

    name = "sink"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        digest = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]
        self.cursor_key = f"sink:{digest}"

    def read_after(self, position: str | None) -> Iterator[RawMail]:
        """Files named after `position`, oldest first (all of them when that file is gone: the mailbox was
        emptied and numbers start again; the intake drops what it took before)."""
        if not self.folder.exists():
            return
        if position is not None and not (self.folder / position).exists():
            position = None
        # os.listdir and names compared as strings (`<n>.eml`, zero-padded): the folder is listed at every
        # pass, and it holds every message ever received.
        names = sorted(
            name
            for name in os.listdir(self.folder)
            if name.endswith(".eml") and not name.startswith(".") and (position is None or name > position)
        )
        previous = _number(position)
        for name in names:
            number = _number(name)
            if previous is not None and number is not None:
                # A listing taken while the sink writes may miss a file renamed into the folder meanwhile
                # (directory entries come in hash order); the cursor would then pass it for good. The files
                # are numbered without gaps, so a missing number is looked up by name.
                for missing in range(previous + 1, number):
                    path = self.folder / f"{missing:06d}.eml"
                    if path.exists():
                        yield RawMail(path.name, path.read_bytes())
            previous = number if number is not None else previous
            yield RawMail(name, (self.folder / name).read_bytes())


def _number(name: str | None) -> int | None:
    """The number of a sink file (`000042.eml` → 42)."""
    stem = (name or "").removesuffix(".eml")
    return int(stem) if stem.isdigit() else None


def configured_source(settings: Settings) -> MailSource | None:
    """The mail source the settings name (None: inbound mail is not read)."""
    if settings.support_mail_source == "sink":
        return SinkMailbox(settings.mailbox_dir)
    if settings.support_mail_source == "imap":  # the production mailbox (aikom/services/support_imap.py)
        from aikom.services.support_imap import configured_imap_source

        return configured_imap_source(settings)
    if settings.support_mail_source == "none":
        return None
    raise ValueError(f"unknown support mail source {settings.support_mail_source!r}")


class FetchReport(BaseModel):
    """What one fetch did."""

    read: int = 0
    outcomes: dict[str, int] = Field(default_factory=dict)
    request_ids: list[int] = Field(default_factory=list)
    failed: list[str] = Field(default_factory=list)
    # Where the time went (seconds): reading the source, parsing, writing, committing.
    seconds: dict[str, float] = Field(default_factory=dict)

    def timed(self, phase: str, since: float) -> float:
        """Add the time since `since` to `phase`; now."""
        now = time.perf_counter()
        self.seconds[phase] = self.seconds.get(phase, 0.0) + now - since
        return now


def _cursor(db_url: str | None, source: str) -> str | None:
    with unit_of_work(db_url) as session:
        return session.scalar(
            select(SupportMailboxCursor.position).where(SupportMailboxCursor.source == source)
        )


def _advance(session: Session, source: str, position: str) -> None:
    statement = insert(SupportMailboxCursor).values(source=source, position=position)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[SupportMailboxCursor.source],
            set_={"position": statement.excluded.position, "updated_at": statement.excluded.updated_at},
        )
    )


def fetch(
    *,
    db_url: str | None = None,
    settings: Settings | None = None,
    source: MailSource | None = None,
    batch_size: int = BATCH_SIZE,
) -> FetchReport:
    """Ingest the new messages of the source addressed to the support address.

    Messages are taken `batch_size` at a time and committed together (one transaction written in bulk by
    `support_mail.ingest_many`, the cursor moved once). When the batch fails, it is rolled back to its
    savepoint and taken again message by message, each in a savepoint of its own: a message the intake
    cannot take is rolled back alone and kept aside in the same transaction, so one bad message never holds
    up the rest and nothing is lost. When the
    database itself fails the batch is rolled back and the cursor stays: the next pass tries again (the
    intake is idempotent by Message-ID). Batches keep the commit cost and the audit chain's lock per batch
    rather than per message; the lock is held for at most one batch.
    """
    settings = settings or get_settings()
    source = source or configured_source(settings)
    report = FetchReport()
    if source is None:
        return report
    started = time.perf_counter()
    position = _cursor(db_url, source.cursor_key)
    batch: list[RawMail] = []
    for mail in source.read_after(position):
        batch.append(mail)
        if len(batch) >= batch_size:
            started = report.timed("read", started)
            if not _ingest_batch(db_url, settings, source, batch, report):
                return report
            started = time.perf_counter()
            batch = []
    started = report.timed("read", started)
    if batch:
        _ingest_batch(db_url, settings, source, batch, report)
    return report


def _ingest_batch(
    db_url: str | None, settings: Settings, source: MailSource, batch: list[RawMail], report: FetchReport
) -> bool:
    """One transaction for the batch; False when the database failed (nothing of the batch is kept)."""
    outcomes: list[support_mail.IngestOutcome] = []
    failed: list[str] = []
    read = 0
    started = time.perf_counter()
    try:
        with unit_of_work(db_url) as session:
            taken: list[tuple[RawMail, support_mail.ParsedMail]] = []
            for mail in batch:
                try:
                    parsed = support_mail.parse(mail.raw)
                except Exception:
                    if not _maybe_addressed(mail, settings):
                        continue
                    read += 1
                    log.exception("support mail %s/%s could not be parsed", source.name, mail.position)
                    failed.append(mail.position)
                    with session.begin_nested():
                        _keep_aside(session, source, mail)
                    continue
                if parsed.addressed_to(settings.support_address):
                    taken.append((mail, parsed))
            read += len(taken)
            started = report.timed("parse", started)
            try:
                with session.begin_nested():
                    outcomes = support_mail.ingest_many(
                        session=session,
                        raws=[m.raw for m, _ in taken],
                        parsed=[p for _, p in taken],
                        source=source.name,
                        settings=settings,
                    )
            except Exception:
                # One message spoilt the batch: take them one by one, each in a savepoint of its own.
                log.warning("support mail batch %s/%s… taken one by one", source.name, batch[0].position)
                outcomes = []
                for mail, parsed in taken:
                    try:
                        with session.begin_nested():
                            outcome = support_mail.ingest_many(
                                session=session,
                                raws=[mail.raw],
                                parsed=[parsed],
                                source=source.name,
                                settings=settings,
                            )[0]
                        outcomes.append(outcome)
                    except Exception:
                        log.exception("support mail %s/%s was not ingested", source.name, mail.position)
                        failed.append(mail.position)
                        with session.begin_nested():
                            _keep_aside(session, source, mail)
            _advance(session, source.cursor_key, batch[-1].position)
            started = report.timed("write", started)
        report.timed("commit", started)
    except Exception:
        log.exception("support mail batch %s/%s… was not ingested", source.name, batch[0].position)
        report.failed.extend(m.position for m in batch)
        return False  # the database itself failed: the cursor stays, the next pass tries again
    report.read += read
    report.failed.extend(failed)
    for outcome in outcomes:
        report.outcomes[outcome.outcome] = report.outcomes.get(outcome.outcome, 0) + 1
        if outcome.request_id is not None:
            report.request_ids.append(outcome.request_id)
    return True


def _maybe_addressed(mail: RawMail, settings: Settings) -> bool:
    """Whether a message that cannot be parsed whole may be for the support desk (its headers say so, or
    cannot be read either): such a message is kept aside, never dropped."""
    try:
        return support_mail.is_addressed_to(mail.raw, settings.support_address)
    except Exception:
        return True


def _keep_aside(session: Session, source: MailSource, mail: RawMail) -> None:
    """Keep a message the intake could not take (raw, with the reason): nothing is lost."""
    session.execute(
        insert(SupportIntake)
        .values(
            message_key=f"failed:{source.cursor_key}:{hashlib.sha256(mail.raw).hexdigest()}",
            source=source.name,
            outcome=IntakeOutcome.REJECTED.value,
            reason="лист не вдалося обробити; збережено для перевірки",
            raw=mail.raw,
        )
        .on_conflict_do_nothing(index_elements=[SupportIntake.message_key])
    )
