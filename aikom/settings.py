"""The one settings object: every configurable value, read from `AIKOM_*` environment variables."""

from __future__ import annotations

from datetime import date, time
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from aikom.core.calendar import BusinessCalendar
from aikom.core.support_canned import DEFAULT_CANNED_REPLIES
from aikom.core.support_sla import DEFAULT_FIRST_RESPONSE_HOURS, DEFAULT_RESOLUTION_HOURS

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """АІКОМ Back Office configuration (env prefix `AIKOM_`)."""

    model_config = SettingsConfigDict(env_prefix="AIKOM_", env_file=".env", extra="ignore")

    # Where the embedded PostgreSQL, the demo PKI and other local state live.
    data_dir: Path = PROJECT_ROOT / ".aikom"
    # The real public registers (КАТОТТГ, ЄДЕБО); never copied into the project.
    shared_data_dir: Path = PROJECT_ROOT.parent / "shared" / "data"
    # With no URL the project starts its own embedded PostgreSQL under data_dir.
    database_url: str | None = None
    # Tests and benchmarks: the server on which they create (and drop) throwaway databases.
    test_server_url: str | None = None
    database_name: str = "aikom"
    prefect_database_name: str = "prefect"

    # Security: secrets for key hashing and personal-data encryption. The defaults are for demo mode only;
    # production configuration must set all of them (see `Settings.check_production`).
    demo_mode: bool = True
    key_pepper_id: str = "p1"
    key_peppers: dict[str, str] = Field(default_factory=lambda: {"p1": "demo-pepper-not-for-production"})
    rnokpp_key_id: str = "k1"
    rnokpp_keys: dict[str, str] = Field(
        # 32-byte AES-256 keys, hex
        default_factory=lambda: {"k1": "00" * 16 + "11" * 16}
    )
    blind_index_key: str = "22" * 32
    # Directory of trusted qualified CA certificates (PEM/DER) and their CRLs.
    trust_dir: Path | None = None

    challenge_ttl_seconds: int = 300
    signin_max_failures: int = 5
    signin_failure_window_seconds: int = 900
    # A dashboard sign-in lasts while used (idle limit) and at most a working day (absolute limit).
    dashboard_session_idle_minutes: int = 60
    dashboard_session_hours: int = 12
    max_signature_bytes: int = 1_000_000

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_starttls: bool = False
    mail_from: str = "АІКОМ <no-reply@aikom.local>"

    # The business calendar (DESIGN: deadlines in business days, SLAs in working hours, Kyiv time):
    # extra days off beyond weekends and the public holidays the `holidays` package knows.
    extra_days_off: list[date] = Field(default_factory=list)
    working_day_start: time = time(9, 0)
    working_day_end: time = time(18, 0)

    # The support desk: its address (mail to it opens requests; replies come from it), how long a
    # finished request may be reopened by the requester's reply, where inbound mail is read ("sink": the
    # local SMTP sink's mailbox; "imap": the support mailbox over IMAP; "none": nowhere), and the
    # attachment limits (types by file extension).
    support_address: str = "support.aikom@iea.gov.ua"
    # ОІС: the catalogue of data sets and review checklists (None: the shipped default).
    ois_catalogue_path: str | None = None
    support_reopen_days: int = 14
    support_mail_source: str = "sink"
    # The support mailbox over IMAP (`support_mail_source` "imap"; aikom/services/support_imap.py): the
    # server, TLS ("ssl": IMAPS, "starttls", "none": plain text, for loopback only), the port (None: 993
    # for "ssl", 143 otherwise), an extra CA bundle for a private CA, the login (the password is a secret:
    # never logged), the folder read, and what is done to a message once it is taken ("seen": flag \Seen;
    # "move": move it to `support_imap_done_folder`, created when missing). A folder never read before (no
    # cursor yet) is read from the messages delivered in its last `support_imap_first_read_days` days only
    # (0: the whole folder): an old mailbox does not open a request for every message it ever held.
    support_imap_host: str = "127.0.0.1"
    support_imap_port: int | None = None
    support_imap_tls: Literal["ssl", "starttls", "none"] = "ssl"
    support_imap_ca_file: Path | None = None
    support_imap_user: str = ""
    support_imap_password: SecretStr = SecretStr("")
    support_imap_folder: str = "INBOX"
    support_imap_after_read: Literal["seen", "move"] = "seen"
    support_imap_done_folder: str = "Processed"
    support_imap_timeout_seconds: float = 30.0
    support_imap_first_read_days: int = Field(default=14, ge=0)
    support_attachment_max_bytes: int = 5_000_000
    support_attachment_types: list[str] = Field(
        default_factory=lambda: ["pdf", "png", "jpeg", "jpg", "txt", "csv", "xlsx", "docx", "p7s"]
    )
    support_attachments_per_message: int = 10
    # The desk's SLA in working hours per priority (first public reply; resolution), and its canned
    # replies (code → Ukrainian text with placeholders {number}, {subject}, {requester}, {agent}).
    support_sla_first_response_hours: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_FIRST_RESPONSE_HOURS)
    )
    support_sla_resolution_hours: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_RESOLUTION_HOURS)
    )
    support_canned_replies: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_CANNED_REPLIES))

    # The ОІС access decision point (`aikom ois serve`, a component of `aikom up`): where it listens, the
    # shared secret the central database's gateway presents (header X-Gateway-Secret; the default is for
    # demo mode only), the per-ОІС rate limits (all requests; requests with a malformed or unknown key),
    # how often the in-memory snapshot is reloaded in full besides LISTEN/NOTIFY, uvicorn worker processes,
    # and the hello-world route the bench compares against.
    ois_gateway_host: str = "127.0.0.1"
    ois_gateway_port: int = 8610
    ois_gateway_secret: str = "demo-gateway-secret-not-for-production"
    ois_gateway_rate_per_s: float = 1000.0
    ois_gateway_burst: float = 2000.0
    ois_gateway_bad_key_rate_per_s: float = 5.0
    ois_gateway_bad_key_burst: float = 50.0
    ois_gateway_reload_seconds: float = 300.0
    ois_gateway_workers: int = 1
    ois_gateway_hello_route: bool = False

    prefect_api_url: str = "http://127.0.0.1:4200/api"
    dashboard_port: int = 8501
    # Where people open the dashboard: links in emails point here.
    public_url: str = "http://127.0.0.1:8501"

    def business_calendar(self) -> BusinessCalendar:
        """The business calendar this configuration describes."""
        return BusinessCalendar.from_settings(
            self.extra_days_off, self.working_day_start, self.working_day_end
        )

    @property
    def pki_dir(self) -> Path:
        """The demo PKI folder (demo mode only)."""
        return self.data_dir / "pki"

    @property
    def mailbox_dir(self) -> Path:
        """Where the local SMTP sink keeps received messages."""
        return self.data_dir / "mailbox"

    @property
    def effective_trust_dir(self) -> Path:
        """Trust list folder: configured, else the demo PKI's trust folder."""
        return self.trust_dir if self.trust_dir is not None else self.pki_dir / "trust"


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings (cached)."""
    return Settings()
