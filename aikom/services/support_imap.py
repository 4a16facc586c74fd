"""The support mailbox over IMAP: a `MailSource` (aikom/mail/support_inbox.py) that reads one folder by UID.

- Positions are `"<UIDVALIDITY>:<UID>"` (`…:<FLOOR>` after a first read that left older messages: the
  lowest UID this reader may flag or move); the inbox's cursor (`support_mailbox_cursor`) keeps the last one
  taken, so a restart neither reads a message again nor skips one. When the folder's UIDVALIDITY changes
  (the folder was recreated) the UIDs mean nothing any more: the folder is read from the start, and the
  intake, idempotent by Message-ID, drops what it took before.
- Messages are read with `BODY.PEEK[]` (no flag changes while reading). What is done to a message once it
  is taken (`support_imap_after_read`: flag it \\Seen, or move it to `support_imap_done_folder`) happens at
  the start of the next round, to the messages at or below the committed cursor only: the source is told
  its position only after the batch holding it was committed, so a message is never marked or moved away
  before the intake has it (nothing is lost when a round fails half way).
- A folder never read before (no cursor) is read from its first message delivered (INTERNALDATE) in the
  last `support_imap_first_read_days` days on; the ones below are left as they are (never flagged nor
  moved: the position carries that floor) and counted in the log.
- Any failure to reach or use the server is a `MailSourceUnavailable` with a Ukrainian message saying what
  is wrong (server not found or unreachable, login refused, folder missing, TLS failure); the cursor stays
  where it was and the next round tries again. The password is never logged nor put in a message.

Standard library `imaplib` only: IMAP4 over TLS (`ssl`), plain IMAP4 upgraded with STARTTLS (`starttls`),
or plain text (`none`, for a loopback server).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import imaplib
import logging
import re
import socket
import ssl
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

from aikom.core.errors import DomainError
from aikom.mail.support_inbox import RawMail
from aikom.settings import Settings

log = logging.getLogger(__name__)

# Messages fetched per IMAP command.
FETCH_CHUNK = 25

# IMAP dates name the month in English whatever the locale (RFC 3501 date-month).
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_UID = re.compile(rb"\bUID\s+(\d+)", re.IGNORECASE)
_TRYCREATE_OR_EXISTS = re.compile(rb"ALREADYEXISTS|already exists", re.IGNORECASE)


class MailSourceUnavailable(DomainError):
    """The mail source could not be read this round (the cursor stays; the next round tries again)."""

    code = "mail_source_unavailable"


@dataclass(frozen=True)
class ImapConfig:
    """Where and how the support mailbox is read (from `Settings.support_imap_*`)."""

    host: str
    port: int
    tls: Literal["ssl", "starttls", "none"]
    user: str
    password: str
    folder: str = "INBOX"
    after_read: Literal["seen", "move"] = "seen"
    done_folder: str = "Processed"
    ca_file: Path | None = None
    timeout: float = 30.0
    first_read_days: int = 14

    def __repr__(self) -> str:  # never the password
        return (
            f"ImapConfig(host={self.host!r}, port={self.port}, tls={self.tls!r}, user={self.user!r}, "
            f"folder={self.folder!r}, after_read={self.after_read!r})"
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> ImapConfig:
        tls = settings.support_imap_tls
        return cls(
            host=settings.support_imap_host,
            port=settings.support_imap_port or (993 if tls == "ssl" else 143),
            tls=tls,
            user=settings.support_imap_user,
            password=settings.support_imap_password.get_secret_value(),
            folder=settings.support_imap_folder,
            after_read=settings.support_imap_after_read,
            done_folder=settings.support_imap_done_folder,
            ca_file=settings.support_imap_ca_file,
            timeout=settings.support_imap_timeout_seconds,
            first_read_days=settings.support_imap_first_read_days,
        )


def encode_mailbox(name: str) -> str:
    """A folder name as IMAP wants it: modified UTF-7 (RFC 3501 5.1.3), quoted."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            encoded = base64.b64encode("".join(pending).encode("utf-16-be")).rstrip(b"=")
            out.append("&" + encoded.replace(b"/", b",").decode("ascii") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    text = "".join(out).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def parse_position(position: str | None) -> tuple[int, int, int] | None:
    """`(uidvalidity, uid, floor)` of a cursor position (None: none, or not an IMAP position)."""
    if position is None:
        return None
    match = re.fullmatch(r"(\d+):(\d+)(?::(\d+))?", position.strip())
    return (int(match.group(1)), int(match.group(2)), int(match.group(3) or 1)) if match else None


class ImapMailbox:
    """One folder of an IMAP mailbox, read by UID (see the module's docstring)."""

    name = "imap"

    def __init__(self, config: ImapConfig) -> None:
        self.config = config
        # One cursor per mailbox folder: a change of port or TLS mode is the same mailbox.
        where = f"{config.user}@{config.host}/{config.folder}".lower()
        self.cursor_key = f"imap:{hashlib.sha256(where.encode()).hexdigest()[:16]}"

    @property
    def _where(self) -> str:
        return f"{self.config.host}:{self.config.port}"

    # --- reading -----------------------------------------------------------------------------------------

    def read_after(self, position: str | None) -> Iterator[RawMail]:
        """The folder's messages after `position`, by UID; first the post-read action for those taken."""
        connection = self._connect()
        try:
            uidvalidity = self._select(connection)
            taken = parse_position(position)
            after, floor = 0, 1
            if taken is not None and taken[0] == uidvalidity:
                after, floor = taken[1], taken[2]
                try:
                    self._after_read(connection, after, floor)
                except imaplib.IMAP4.abort:
                    raise
                except (MailSourceUnavailable, imaplib.IMAP4.error) as error:
                    # Flagging or moving is housekeeping: the new mail is read all the same, and the
                    # messages are flagged or moved on a later round.
                    reason = error.message_uk if isinstance(error, MailSourceUnavailable) else _brief(error)
                    log.warning(
                        "support mail on %s: taken messages not flagged/moved: %s", self._where, reason
                    )
            if taken is None and self.config.first_read_days > 0:
                uids = self._uids_delivered_lately(connection, self.config.first_read_days)
                floor = uids[0] if uids else 1
            else:
                uids = self._uids_after(connection, after)
            suffix = f":{floor}" if floor > 1 else ""
            for chunk in _chunks(uids, FETCH_CHUNK):
                for uid, raw in self._fetch(connection, chunk):
                    yield RawMail(f"{uidvalidity}:{uid}{suffix}", raw)
        except MailSourceUnavailable:
            raise
        except (imaplib.IMAP4.abort, OSError) as error:
            raise MailSourceUnavailable(
                f"З’єднання з поштовим сервером IMAP {self._where} обірвалося ({_brief(error)}); "
                "непрочитані листи буде прочитано наступного разу."
            ) from None
        except imaplib.IMAP4.error as error:
            raise MailSourceUnavailable(
                f"Поштовий сервер IMAP {self._where} відхилив команду ({_brief(error)}); "
                "листи буде прочитано наступного разу."
            ) from None
        finally:
            _close(connection)

    def _connect(self) -> imaplib.IMAP4:
        """A logged-in connection; a `MailSourceUnavailable` naming what is wrong otherwise."""
        config = self.config
        try:
            context = ssl.create_default_context(cafile=str(config.ca_file) if config.ca_file else None)
        except (OSError, ssl.SSLError) as error:
            raise MailSourceUnavailable(
                f"Не вдалося прочитати файл сертифікатів центру сертифікації {config.ca_file} "
                f"(AIKOM_SUPPORT_IMAP_CA_FILE): {_brief(error)}."
            ) from None
        try:
            connection: imaplib.IMAP4
            if config.tls == "ssl":
                connection = imaplib.IMAP4_SSL(
                    config.host, config.port, ssl_context=context, timeout=config.timeout
                )
            else:
                connection = imaplib.IMAP4(config.host, config.port, timeout=config.timeout)
        except socket.gaierror:
            raise MailSourceUnavailable(
                f"Поштовий сервер IMAP «{config.host}» не знайдено: перевірте назву сервера "
                "(AIKOM_SUPPORT_IMAP_HOST)."
            ) from None
        except ConnectionRefusedError:
            raise MailSourceUnavailable(
                f"Поштовий сервер IMAP {self._where} недоступний: з’єднання відхилено (сервер не запущено "
                "або порт закрито). Наступна спроба — під час наступного читання пошти."
            ) from None
        except TimeoutError:
            raise MailSourceUnavailable(
                f"Поштовий сервер IMAP {self._where} не відповідає (очікування {config.timeout:g} с). "
                "Наступна спроба — під час наступного читання пошти."
            ) from None
        except ssl.SSLError as error:
            raise self._tls_failure(error) from None
        except (OSError, imaplib.IMAP4.error) as error:
            raise MailSourceUnavailable(
                f"Поштовий сервер IMAP {self._where} недоступний ({_brief(error)}). Наступна спроба — під "
                "час наступного читання пошти."
            ) from None
        try:
            if config.tls == "starttls":
                try:
                    connection.starttls(context)
                except ssl.SSLError as error:
                    raise self._tls_failure(error) from None
                except imaplib.IMAP4.error:
                    raise MailSourceUnavailable(
                        f"Поштовий сервер IMAP {self._where} не підтримує STARTTLS: оберіть "
                        "AIKOM_SUPPORT_IMAP_TLS=ssl (порт 993) або інший сервер."
                    ) from None
            try:
                self._login(connection)
            except imaplib.IMAP4.abort:
                raise
            except imaplib.IMAP4.error as error:
                raise MailSourceUnavailable(
                    f"Поштовий сервер IMAP {self._where} відмовив у вході користувачу «{config.user}»: "
                    "невірне ім’я користувача або пароль (AIKOM_SUPPORT_IMAP_USER, "
                    f"AIKOM_SUPPORT_IMAP_PASSWORD), або вхід заборонено. Відповідь сервера: "
                    f"{self._scrub(_brief(error))}."
                ) from None
        except MailSourceUnavailable:
            _close(connection)
            raise
        except (imaplib.IMAP4.abort, OSError) as error:
            _close(connection)
            raise MailSourceUnavailable(
                f"З’єднання з поштовим сервером IMAP {self._where} обірвалося під час входу "
                f"({self._scrub(_brief(error))}). Наступна спроба — під час наступного читання пошти."
            ) from None
        return connection

    def _login(self, connection: imaplib.IMAP4) -> None:
        """LOGIN with ASCII credentials, else AUTHENTICATE PLAIN in UTF-8 (RFC 4616) where offered."""
        config = self.config
        if (config.user + config.password).isascii():
            connection.login(config.user, config.password)
            return
        if "AUTH=PLAIN" not in {str(c).upper() for c in connection.capabilities}:
            raise MailSourceUnavailable(
                "Ім’я користувача або пароль скриньки містить символи поза ASCII, а сервер IMAP "
                f"{self._where} не пропонує вхід AUTH=PLAIN, у якому їх можна передати."
            )
        credentials = f"\0{config.user}\0{config.password}".encode()
        connection.authenticate("PLAIN", lambda _challenge: credentials)

    def _tls_failure(self, error: ssl.SSLError) -> MailSourceUnavailable:
        if isinstance(error, ssl.SSLCertVerificationError):
            reason = f"сертифікат сервера не пройшов перевірку ({error.verify_message})"
        else:
            reason = _brief(error)
        return MailSourceUnavailable(
            f"Не вдалося встановити захищене з’єднання (TLS) з поштовим сервером IMAP {self._where}: "
            f"{reason}. Перевірте AIKOM_SUPPORT_IMAP_TLS, порт і AIKOM_SUPPORT_IMAP_CA_FILE."
        )

    def _scrub(self, text: str) -> str:
        password = self.config.password
        return text.replace(password, "***") if password else text

    def _select(self, connection: imaplib.IMAP4) -> int:
        """Open the folder for reading and writing; its UIDVALIDITY."""
        folder = self.config.folder
        status, data = connection.select(encode_mailbox(folder))
        if status != "OK":
            raise MailSourceUnavailable(
                f"Папку «{folder}» не знайдено в поштовій скриньці «{self.config.user}» на сервері IMAP "
                f"{self._where} (AIKOM_SUPPORT_IMAP_FOLDER); відповідь сервера: {_text(data)}."
            )
        _, values = connection.response("UIDVALIDITY")
        value = values[0] if values else None
        if not isinstance(value, bytes) or not value.strip().isdigit():
            raise MailSourceUnavailable(
                f"Поштовий сервер IMAP {self._where} не повідомив UIDVALIDITY папки «{folder}»; без неї "
                "листи не можна читати без повторів і пропусків."
            )
        return int(value)

    def _uids_delivered_lately(self, connection: imaplib.IMAP4, days: int) -> list[int]:
        """The first read of a folder: its messages from the first one delivered in the last `days` days
        on (IMAP's SINCE is by the server's delivery date, whole days); the ones below are left alone."""
        since = date.today() - timedelta(days=days)
        status, data = connection.uid("SEARCH", f"SINCE {since.day}-{_MONTHS[since.month - 1]}-{since.year}")
        _check(status, data, "SEARCH")
        recent = _numbers(data)
        status, data = connection.uid("SEARCH", "ALL")
        _check(status, data, "SEARCH")
        every = sorted(_numbers(data))
        taken = [uid for uid in every if recent and uid >= min(recent)]
        log.info(
            "support mail on %s: first read of the folder: %d messages of the last %d days taken, "
            "%d older ones left as they are",
            self._where, len(taken), days, len(every) - len(taken),
        )  # fmt: skip
        return taken

    def _uids_after(self, connection: imaplib.IMAP4, after: int) -> list[int]:
        status, data = connection.uid("SEARCH", f"UID {after + 1}:*")
        _check(status, data, "SEARCH")
        # "N:*" names the last message even when its UID is below N: keep only those after the cursor.
        return sorted(uid for uid in _numbers(data) if uid > after)

    def _fetch(self, connection: imaplib.IMAP4, uids: list[int]) -> list[tuple[int, bytes]]:
        """The raw messages of `uids`, in UID order (a message expunged meanwhile is simply absent)."""
        status, data = connection.uid("FETCH", ",".join(map(str, uids)), "(UID BODY.PEEK[])")
        _check(status, data, "FETCH")
        wanted = set(uids)
        found: dict[int, bytes] = {}
        for index, item in enumerate(data):
            if not isinstance(item, tuple):
                continue
            prefix, literal = item
            match = _UID.search(prefix)
            if match is None and index + 1 < len(data) and isinstance(data[index + 1], bytes):
                match = _UID.search(data[index + 1])
            if match is not None and int(match.group(1)) in wanted:
                found[int(match.group(1))] = bytes(literal)
        return sorted(found.items())

    # --- after reading -----------------------------------------------------------------------------------

    def _after_read(self, connection: imaplib.IMAP4, last_taken: int, floor: int = 1) -> None:
        """Flag \\Seen, or move away, the messages from `floor` to `last_taken` (committed by the intake)."""
        if last_taken < floor:
            return
        taken = f"{floor}:{last_taken}"
        if self.config.after_read == "seen":
            status, data = connection.uid("SEARCH", f"UID {taken} UNSEEN")
            _check(status, data, "SEARCH")
            unseen = _numbers(data)
            for chunk in _chunks(unseen, 500):
                status, data = connection.uid("STORE", _set(chunk), "+FLAGS.SILENT", r"(\Seen)")
                _check(status, data, "STORE")
            return
        status, data = connection.uid("SEARCH", f"UID {taken}")
        _check(status, data, "SEARCH")
        present = [uid for uid in _numbers(data) if floor <= uid <= last_taken]
        if not present:
            return
        target = encode_mailbox(self.config.done_folder)
        self._ensure_folder(connection, target)
        # The capabilities after login (imaplib keeps only the greeting's, which omit MOVE and UIDPLUS).
        status, data = connection.capability()
        _check(status, data, "CAPABILITY")
        capabilities = {
            word.upper() for item in data if isinstance(item, bytes) for word in item.decode().split()
        }
        for chunk in _chunks(present, 500):
            uid_set = _set(chunk)
            if "MOVE" in capabilities:
                status, data = connection.uid("MOVE", uid_set, target)
                _check(status, data, "MOVE")
            elif "UIDPLUS" in capabilities:
                status, data = connection.uid("COPY", uid_set, target)
                _check(status, data, "COPY")
                status, data = connection.uid("STORE", uid_set, "+FLAGS.SILENT", r"(\Deleted)")
                _check(status, data, "STORE")
                status, data = connection.uid("EXPUNGE", uid_set)
                _check(status, data, "EXPUNGE")
            else:
                # A plain EXPUNGE would also remove messages someone else flagged \Deleted, read or not.
                raise MailSourceUnavailable(
                    f"Поштовий сервер IMAP {self._where} не вміє переносити листи (немає MOVE чи UIDPLUS): "
                    "оберіть AIKOM_SUPPORT_IMAP_AFTER_READ=seen."
                )

    def _ensure_folder(self, connection: imaplib.IMAP4, target: str) -> None:
        status, data = connection.list('""', target)
        if status == "OK" and any(item for item in data if item):
            return
        status, data = connection.create(target)
        if status != "OK" and not any(
            isinstance(item, bytes) and _TRYCREATE_OR_EXISTS.search(item) for item in data
        ):
            raise MailSourceUnavailable(
                f"Не вдалося створити папку «{self.config.done_folder}» для прочитаних листів "
                f"(AIKOM_SUPPORT_IMAP_DONE_FOLDER) на сервері IMAP {self._where}: {_text(data)}."
            )


def configured_imap_source(settings: Settings) -> ImapMailbox:
    """The IMAP source the settings describe."""
    return ImapMailbox(ImapConfig.from_settings(settings))


# --- helpers -----------------------------------------------------------------------------------------------


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _set(uids: list[int]) -> str:
    return ",".join(map(str, uids))


def _numbers(data: Sequence[object]) -> list[int]:
    return [int(n) for item in data if isinstance(item, bytes) for n in item.split() if n.isdigit()]


def _text(data: Sequence[object]) -> str:
    parts = [item.decode("utf-8", "replace") for item in data if isinstance(item, bytes)]
    return " ".join(parts)[:300] or "без пояснень"


def _brief(error: BaseException) -> str:
    text = str(error).strip()
    if text.startswith(("b'", 'b"')) and text.endswith(("'", '"')):
        text = text[2:-1]
    return (text.splitlines()[0] if text else type(error).__name__)[:300]


def _check(status: str, data: Sequence[object], command: str) -> None:
    if status != "OK":
        raise imaplib.IMAP4.error(f"{command}: {_text(data)}")


def _close(connection: imaplib.IMAP4) -> None:
    """Log out, or at least close the socket (never raises). Never CLOSE: it would expunge every message
    flagged \\Deleted in the folder, including ones someone else flagged."""
    try:
        connection.logout()
    except (imaplib.IMAP4.error, OSError):
        with contextlib.suppress(OSError):
            connection.shutdown()
