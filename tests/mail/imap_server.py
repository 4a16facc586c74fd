"""A real IMAP server for tests: Debian's Dovecot, started as a private instance on loopback.

`start_dovecot(root)` writes its own configuration under `root` (a passwd-file user, a maildir, logs to a
file — nothing of the system's dovecot is used or touched), listens on 127.0.0.1 on free ports — IMAP with
STARTTLS and IMAPS, both with a certificate of a test CA made here — and returns an `ImapServer` that can
put messages in (APPEND over IMAP, as a mail delivery would), look at folders and flags, and stop.
`require_dovecot()` installs the Debian package `dovecot-imapd` when `dovecot` is missing (as
scripts/test.sh does); only when that is impossible outside CI does it skip the test (CI=true fails).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import grp
import imaplib
import ipaddress
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DOVECOT_PACKAGE = "dovecot-imapd"


def dovecot_binary() -> str | None:
    return shutil.which("dovecot") or next((p for p in ("/usr/sbin/dovecot",) if Path(p).exists()), None)


def require_dovecot() -> str:
    """The dovecot binary, installed from Debian when missing; skip (fail in CI) when impossible."""
    binary = dovecot_binary()
    if binary is None and shutil.which("apt-get") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, check=False)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", DOVECOT_PACKAGE], env=env, capture_output=True, check=False
        )
        binary = dovecot_binary()
    if binary is None:
        reason = f"Dovecot is not installed and could not be installed (apt-get install {DOVECOT_PACKAGE})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " — CI must run the IMAP tests")
        pytest.skip(reason)
    return binary


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ImapServer:
    """A running private Dovecot: its ports, its one user, its files."""

    root: Path
    port: int  # IMAP (STARTTLS offered)
    ssl_port: int  # IMAPS
    user: str
    password: str
    ca_file: Path
    log_file: Path
    process: subprocess.Popen[bytes] | None
    config: Path
    _binary: str = field(repr=False, default="dovecot")

    def client(self) -> imaplib.IMAP4:
        """A logged-in plain IMAP connection (the test's own view of the mailbox)."""
        connection = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        credentials = f"\0{self.user}\0{self.password}".encode()  # AUTH=PLAIN: UTF-8 passwords too
        connection.authenticate("PLAIN", lambda _challenge: credentials)
        return connection

    def append(self, raw: bytes, folder: str = "INBOX", delivered: dt.datetime | None = None) -> None:
        """Deliver one message into `folder` (APPEND, no flags: unseen), at `delivered` (default: now)."""
        connection = self.client()
        try:
            status, data = connection.append(folder, "", delivered, raw)
            assert status == "OK", data
        finally:
            connection.logout()

    def create_folder(self, folder: str) -> None:
        connection = self.client()
        try:
            connection.create(folder)
        finally:
            connection.logout()

    def messages(self, folder: str = "INBOX") -> dict[int, set[str]]:
        """UID → flags of every message in the folder (read-only look)."""
        connection = self.client()
        try:
            status, data = connection.select(folder, readonly=True)
            assert status == "OK", data
            status, data = connection.uid("FETCH", "1:*", "(UID FLAGS)")
            assert status == "OK", data
            found: dict[int, set[str]] = {}
            for item in data:
                if not isinstance(item, bytes):
                    continue
                text = item.decode()
                uid = int(text.split("UID ", 1)[1].split()[0].rstrip(")"))
                flags = text.split("FLAGS (", 1)[1].split(")", 1)[0].split()
                found[uid] = set(flags)
            return found
        finally:
            connection.logout()

    def folders(self) -> list[str]:
        """The user's folder names as Dovecot itself decodes them (`doveadm mailbox list`: UTF-8)."""
        doveadm = shutil.which("doveadm") or str(Path(self._binary).with_name("doveadm"))
        listed = subprocess.run(
            [doveadm, "-c", str(self.config), "mailbox", "list", "-u", self.user],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        return listed.stdout.splitlines()

    def set_password(self, password: str) -> None:
        """Change the user's password. Dovecot looks at its passwd-file at most once a second: wait that
        long, so the next login sees the change."""
        self.password = password
        _write_users(self.root, self.user, password)
        time.sleep(1.1)

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def launch(self) -> None:
        """Start the Dovecot master in the foreground and wait for its IMAP greeting."""
        with (self.root / "stderr.log").open("ab") as stderr:
            self.process = subprocess.Popen(
                [self._binary, "-F", "-c", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,  # its own process group: `halt` stops every process of it
            )
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                output = (self.root / "stderr.log").read_text(errors="replace") + self.log()
                raise RuntimeError(f"dovecot exited with {self.process.returncode}: {output}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"dovecot did not answer on 127.0.0.1:{self.port}: {self.log()}")
            time.sleep(0.1)

    def halt(self) -> None:
        """Stop the server and every process of it — open connections drop at once (the master alone would
        leave a busy `imap` process to finish); the mailbox stays for `launch` again."""
        if self.process is None:
            return
        group = self.process.pid  # the group this server's master leads (start_new_session)
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)

    def stop(self) -> None:
        """Stop the server and remove its files."""
        self.halt()
        shutil.rmtree(self.root, ignore_errors=True)


def _write_users(root: Path, user: str, password: str) -> None:
    (root / "users").write_text(f"{user}:{{PLAIN}}{password}::::::\n")


def _certificates(root: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for 127.0.0.1 / localhost signed by it: (ca, cert, key)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "AIKOM test IMAP CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = root / "ca.pem", root / "server.pem", root / "server.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return ca_path, cert_path, key_path


def _accounts() -> tuple[str, str, int, int]:
    """(login user, internal user, mail uid, mail gid): Dovecot's own users when run as root."""
    if os.geteuid() == 0:
        mail = pwd.getpwnam("dovecot")
        return "dovenull", "dovecot", mail.pw_uid, mail.pw_gid
    me = pwd.getpwuid(os.geteuid()).pw_name
    return me, me, os.geteuid(), os.getegid()


def start_dovecot(*, user: str = "support", password: str = "imap-test-secret") -> ImapServer:
    """Start a private Dovecot on loopback (see the module's docstring); stop it with `.stop()`."""
    binary = require_dovecot()
    # Not under pytest's tmp (0700): Dovecot's own processes (its users when run as root) must reach it.
    root = Path(tempfile.mkdtemp(prefix="aikom-dovecot-"))
    root.chmod(0o755)
    login_user, internal_user, mail_uid, mail_gid = _accounts()
    (root / "run").mkdir()
    (root / "state").mkdir()
    mail = root / "mail"
    mail.mkdir()
    os.chown(mail, mail_uid, mail_gid)
    ca, cert, key = _certificates(root)
    _write_users(root, user, password)
    port, ssl_port = _free_port(), _free_port()
    log_file = root / "dovecot.log"
    config = root / "dovecot.conf"
    config.write_text(
        f"""# A private test instance (tests/mail/imap_server.py): nothing of the system's dovecot is used.
base_dir = {root}/run
state_dir = {root}/state
instance_name = aikom-test-{port}
protocols = imap
listen = 127.0.0.1
log_path = {log_file}
info_log_path = {log_file}
debug_log_path = {log_file}
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {grp.getgrgid(pwd.getpwnam(internal_user).pw_gid).gr_name}
first_valid_uid = {mail_uid}
last_valid_uid = {mail_uid}
first_valid_gid = {mail_gid}
mail_location = maildir:{mail}/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={mail}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {ssl_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""
    )
    server = ImapServer(root, port, ssl_port, user, password, ca, log_file, None, config, binary)
    try:
        server.launch()
    except BaseException:
        server.stop()
        raise
    return server
