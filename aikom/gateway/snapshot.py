"""The in-memory snapshot the access decision point decides from, and how it is kept fresh.

A full load reads API keys (public id, hash, state, account), account states, ОІС states with their
dated phases and the active grants. Afterwards `SnapshotListener` applies deltas: the migration 0010p
triggers NOTIFY `aikom_ois_access` with `<table>:<id>` on every row change, and the rows named are read
again (a missing row is removed). A periodic full reload is the fallback for anything missed (a lost
connection: the listener reconnects, listens again, then reloads in full).

The snapshot is read by the request handlers while the listener thread writes it: each write replaces
one dictionary entry (atomic under the GIL) and a full reload swaps whole dictionaries, so a reader sees
an entry either before or after a change, never half of one.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

CHANNEL = "aikom_ois_access"
TABLES = ("access_key", "account", "ois", "ois_phase", "ois_grant")
# How the listening connection shows in pg_stat_activity.
APPLICATION_NAME = "aikom-ois-gateway"


@dataclass(frozen=True, slots=True)
class KeyEntry:
    id: int
    account_id: int
    kind: str
    public_id: str
    secret_hash: bytes
    pepper_id: str
    state: str


@dataclass(frozen=True, slots=True)
class OisEntry:
    id: int
    client_id: str | None
    state: str
    # The `ois.capability` column: what a connected ОІС holds when it has no phase in force.
    capability: str
    # (effective_from as epoch seconds, capability), ascending; the one in force is the latest already
    # effective (floats: compared per request, a datetime comparison costs several times more).
    phases: tuple[tuple[float, str], ...] = ()

    def capability_at(self, now: float) -> str:
        """The capability in force at `now` (epoch seconds; phases first, then the ОІС's own column)."""
        for effective_from, capability in reversed(self.phases):
            if effective_from <= now:
                return capability
        return self.capability


@dataclass(frozen=True, slots=True)
class GrantEntry:
    id: int
    key_id: int
    ois_id: int
    data_sets: frozenset[str]


@dataclass
class Snapshot:
    """What the decision point knows, by the look-ups a decision makes."""

    keys: dict[str, KeyEntry] = field(default_factory=dict)  # by public id
    key_public_ids: dict[int, str] = field(default_factory=dict)  # key id → public id
    accounts: dict[int, str] = field(default_factory=dict)  # account id → state
    ois_by_client: dict[str, OisEntry] = field(default_factory=dict)
    ois_by_id: dict[int, OisEntry] = field(default_factory=dict)
    grants: dict[tuple[int, int], GrantEntry] = field(default_factory=dict)  # (key id, ois id) → active grant
    grant_keys: dict[int, tuple[int, int]] = field(default_factory=dict)  # grant id → (key id, ois id)
    loaded_at: float = 0.0
    deltas_applied: int = 0

    # --- writes (listener thread only) ----------------------------------------------------------

    def put_key(self, entry: KeyEntry) -> None:
        old = self.key_public_ids.get(entry.id)
        if old is not None and old != entry.public_id:
            self.keys.pop(old, None)
        self.keys[entry.public_id] = entry
        self.key_public_ids[entry.id] = entry.public_id

    def drop_key(self, key_id: int) -> None:
        public_id = self.key_public_ids.pop(key_id, None)
        if public_id is not None:
            self.keys.pop(public_id, None)

    def put_ois(self, entry: OisEntry) -> None:
        old = self.ois_by_id.get(entry.id)
        if old is not None and old.client_id and old.client_id != entry.client_id:
            self.ois_by_client.pop(old.client_id, None)
        self.ois_by_id[entry.id] = entry
        if entry.client_id:
            self.ois_by_client[entry.client_id] = entry

    def drop_ois(self, ois_id: int) -> None:
        old = self.ois_by_id.pop(ois_id, None)
        if old is not None and old.client_id:
            self.ois_by_client.pop(old.client_id, None)

    def put_grant(self, entry: GrantEntry) -> None:
        self.drop_grant(entry.id)
        self.grants[(entry.key_id, entry.ois_id)] = entry
        self.grant_keys[entry.id] = (entry.key_id, entry.ois_id)

    def drop_grant(self, grant_id: int) -> None:
        where = self.grant_keys.pop(grant_id, None)
        if where is not None:
            current = self.grants.get(where)
            if current is not None and current.id == grant_id:
                del self.grants[where]


# --- reading the database -------------------------------------------------------------------------

_KEYS_SQL = "SELECT id, account_id, kind, public_id, secret_hash, pepper_id, state FROM access_key"
_ACCOUNTS_SQL = "SELECT id, state FROM account"
_OIS_SQL = "SELECT id, client_id, state, capability FROM ois"
_PHASES_SQL = "SELECT ois_id, effective_from, capability FROM ois_phase"
_GRANTS_SQL = "SELECT id, api_key_id, ois_id, data_sets FROM ois_grant WHERE state = 'active'"
_PHASE_ORDER = " ORDER BY ois_id, effective_from, id"


def libpq_url(sqlalchemy_url: str) -> str:
    """A SQLAlchemy URL (`postgresql+psycopg://…`, maybe `?host=<socket dir>&port=…`) as libpq conninfo."""
    url = make_url(sqlalchemy_url)
    parts: dict[str, Any] = {
        "host": url.host, "port": url.port, "user": url.username, "password": url.password,
        "dbname": url.database,
    }  # fmt: skip
    parts.update({name: value if isinstance(value, str) else value[-1] for name, value in url.query.items()})
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in parts.items() if v is not None})


def _key(row: tuple[Any, ...]) -> KeyEntry:
    return KeyEntry(
        id=row[0], account_id=row[1], kind=row[2], public_id=row[3], secret_hash=bytes(row[4]),
        pepper_id=row[5], state=row[6],
    )  # fmt: skip


def _phases(rows: Iterable[tuple[Any, ...]]) -> dict[int, list[tuple[float, str]]]:
    by_ois: dict[int, list[tuple[float, str]]] = defaultdict(list)
    for ois_id, effective_from, capability in rows:
        by_ois[ois_id].append((effective_from.timestamp(), capability))
    return by_ois


def load_snapshot(conn: psycopg.Connection) -> Snapshot:
    """Everything, read in one repeatable-read transaction (a consistent picture)."""
    snap = Snapshot()
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cur.execute(_KEYS_SQL + " WHERE kind = 'api'")
        for row in cur:
            snap.put_key(_key(row))
        cur.execute(_ACCOUNTS_SQL)
        snap.accounts = {account_id: state for account_id, state in cur}
        cur.execute(_PHASES_SQL + _PHASE_ORDER)
        phases = _phases(cur)
        cur.execute(_OIS_SQL)
        for ois_id, client_id, state, capability in cur.fetchall():
            snap.put_ois(OisEntry(ois_id, client_id, state, capability, tuple(phases.get(ois_id, ()))))
        cur.execute(_GRANTS_SQL)
        for grant_id, key_id, ois_id, data_sets in cur:
            snap.put_grant(GrantEntry(grant_id, key_id, ois_id, frozenset(data_sets or ())))
    snap.loaded_at = time.monotonic()
    return snap


def apply_changes(conn: psycopg.Connection, snap: Snapshot, changed: dict[str, set[int]]) -> None:
    """Read again the rows named by notifications and put them into `snap` (or drop them)."""
    with conn.transaction(), conn.cursor() as cur:
        if ids := changed.get("access_key"):
            cur.execute(_KEYS_SQL + " WHERE id = ANY(%s)", (list(ids),))
            found = {row[0]: row for row in cur}
            for key_id in ids:
                row = found.get(key_id)
                if row is None or row[2] != "api":
                    snap.drop_key(key_id)
                else:
                    snap.put_key(_key(row))
        if ids := changed.get("account"):
            cur.execute(_ACCOUNTS_SQL + " WHERE id = ANY(%s)", (list(ids),))
            found_states: dict[int, str] = dict(cur.fetchall())
            for account_id in ids:
                if account_id in found_states:
                    snap.accounts[account_id] = found_states[account_id]
                else:
                    snap.accounts.pop(account_id, None)
        ois_ids = (changed.get("ois") or set()) | (changed.get("ois_phase") or set())
        if ois_ids:
            cur.execute(_PHASES_SQL + " WHERE ois_id = ANY(%s)" + _PHASE_ORDER, (list(ois_ids),))
            phases = _phases(cur)
            cur.execute(_OIS_SQL + " WHERE id = ANY(%s)", (list(ois_ids),))
            found_ois = {row[0]: row for row in cur}
            for ois_id in ois_ids:
                if ois_id not in found_ois:
                    snap.drop_ois(ois_id)
                    continue
                _, client_id, state, capability = found_ois[ois_id]
                snap.put_ois(OisEntry(ois_id, client_id, state, capability, tuple(phases.get(ois_id, ()))))
        if ids := changed.get("ois_grant"):
            cur.execute(_GRANTS_SQL + " AND id = ANY(%s)", (list(ids),))
            active = {row[0]: row for row in cur}
            for grant_id in ids:
                if grant_id in active:
                    _, key_id, ois_id, data_sets = active[grant_id]
                    snap.put_grant(GrantEntry(grant_id, key_id, ois_id, frozenset(data_sets or ())))
                else:
                    snap.drop_grant(grant_id)
    snap.deltas_applied += sum(len(v) for v in changed.values())


def parse_payload(payload: str) -> tuple[str, int] | None:
    """`<table>:<id>` from a notification, or None for anything else."""
    table, _, raw_id = payload.partition(":")
    if table not in TABLES or not raw_id.isdigit():
        return None
    return table, int(raw_id)


class SnapshotListener:
    """Holds the current snapshot and keeps it fresh from a thread of its own (LISTEN/NOTIFY)."""

    def __init__(
        self,
        database_url: str,
        *,
        full_reload_seconds: float = 300.0,
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        self.url = libpq_url(database_url)
        self.full_reload_seconds = full_reload_seconds
        self.on_change = on_change
        self.snapshot = Snapshot()
        self.ready = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: psycopg.Connection | None = None

    def start(self, timeout: float = 60.0) -> None:
        """Start listening and wait for the first full load."""
        self._thread = threading.Thread(target=self._run, name="ois-snapshot", daemon=True)
        self._thread.start()
        if not self.ready.wait(timeout):
            raise RuntimeError("the ОІС access snapshot was not loaded in time (is the database up?)")

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        failing = False
        while not self._stopping.is_set():
            try:
                with psycopg.connect(
                    self.url, autocommit=True, connect_timeout=5, application_name=APPLICATION_NAME
                ) as conn:
                    self._conn = conn
                    conn.execute(f"LISTEN {CHANNEL}")
                    # Listening before loading: no change can fall between the load and the first delta.
                    self._reload(conn)
                    if failing:
                        log.warning("ОІС access snapshot: the database is reachable again; reloaded in full")
                    failing = False
                    self._listen(conn)
            except psycopg.Error as error:
                if not failing:
                    log.warning("ОІС access snapshot: database unreachable, retrying: %s", error)
                failing = True
                self._stopping.wait(1.0)
            finally:
                self._conn = None

    def _reload(self, conn: psycopg.Connection) -> None:
        self.snapshot = load_snapshot(conn)
        # Tens of thousands of long-lived entries: out of the cyclic collector's sight, so that its full
        # passes (a pause of every request) stay short. They have no cycles; refcounting frees them.
        gc.freeze()
        self.ready.set()
        if self.on_change:
            self.on_change("full")

    def _listen(self, conn: psycopg.Connection) -> None:
        while not self._stopping.is_set():
            remaining = self.snapshot.loaded_at + self.full_reload_seconds - time.monotonic()
            if remaining <= 0:
                self._reload(conn)
                continue
            changed: dict[str, set[int]] = defaultdict(set)
            for notify in conn.notifies(timeout=min(remaining, 0.5), stop_after=1):
                self._collect(notify.payload, changed)
            if not changed:
                continue
            # Whatever else is already queued goes into the same batch.
            for notify in conn.notifies(timeout=0.0):
                self._collect(notify.payload, changed)
            apply_changes(conn, self.snapshot, changed)
            if self.on_change:
                self.on_change("delta")

    @staticmethod
    def _collect(payload: str, changed: dict[str, set[int]]) -> None:
        parsed = parse_payload(payload)
        if parsed is not None:
            changed[parsed[0]].add(parsed[1])
