"""Benchmark of the ОІС access decision point: decisions/s and p99 over HTTP keep-alive, against a
hello-world route on the same server, and how soon a committed revocation is seen by a client.

A throwaway database on the configured PostgreSQL server gets 10,000 schools, each with an active
account, an API key (real peppered HMAC) and a grant to one of 50 connected ОІС (receive only, a
transmit phase dated next year). A few schools are in states that deny (key deactivated or suspended,
account suspended or deactivated) and one ОІС is suspended. `aikom ois serve` runs as a process of its
own with the hello-world route on; Debian's `wrk` (installed by apt when missing) drives it for 30 s
per route (the hello-world's in halves before and after the decisions), 2 threads, 32 connections,
with a Lua script that picks a school uniformly from the 10,000 per request and, for about one request
in five, asks something that is denied for one reason or another (a reserved data set, a data set not
granted, `write` before the phase, another ОІС's name, or simply a school whose state denies).
While /v1/decide is under load, schools' grants are revoked one by one; a client polling every 10 ms
measures from each revocation's commit to the first denial. Then 10,000 garbage keys from one ОІС at once.

    .venv/bin/python bench/ois.py [--seconds 30] [--threads 2] [--connections 32] [--workers 1]

The last line: RESULT decisions_per_s=… hello_ratio=… p99_ms=… revocation_s=… cores=…
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, select, text, update
from sqlalchemy.engine import Engine, make_url

from aikom.core.keys import compose_token, hash_secret, pepper_bytes
from aikom.db import scratch_server_url
from aikom.migrate import upgrade_database
from aikom.models import (
    AccessKey,
    Account,
    AccountState,
    GrantState,
    KeyKind,
    KeyState,
    Ois,
    OisCapability,
    OisGrant,
    OisPhase,
    OisState,
    OrgLevel,
    OrgUnit,
)
from aikom.settings import Settings, get_settings

SCHOOLS = 10_000
OIS_COUNT = 50
SECRET = "bench-gateway-secret"
GRANTED = ["school_profile", "classes", "pupils"]
LUA = r"""
-- Loaded once per wrk thread: one line per school: token, its ОІС's client id, another ОІС's client id.
local schools = {}
local path = os.getenv("OIS_BENCH_SCHOOLS")
for line in io.lines(path) do
  local token, client, other = line:match("([^ ]+) ([^ ]+) ([^ ]+)")
  schools[#schools + 1] = {token, client, other}
end
local target = os.getenv("OIS_BENCH_PATH")
local secret = os.getenv("OIS_BENCH_SECRET")
math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)

request = function()
  local s = schools[math.random(#schools)]
  local r = math.random()
  local client, data_set, operation = s[2], "classes", "read"
  if r < 0.04 then data_set = "transfer"            -- reserved_data_set
  elseif r < 0.08 then data_set = "staff"           -- no_grant (data set not granted)
  elseif r < 0.12 then operation = "write"          -- write_not_allowed_yet
  elseif r < 0.15 then client = s[3]                -- no_grant (another ОІС)
  end
  local body = '{"client_id":"' .. client .. '","data_set":"' .. data_set
    .. '","operation":"' .. operation .. '"}'
  return wrk.format("POST", target, {["Content-Type"] = "application/json", ["X-Gateway-Secret"] = secret,
                                     ["X-Api-Key"] = s[1]}, body)
end
"""


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def populate(engine: Engine, settings: Settings, lines_path: Path) -> dict[str, Any]:
    """10,000 schools with accounts, API keys and grants; the wrk data file (token, ОІС, another ОІС)."""
    pepper = pepper_bytes(settings.key_peppers, settings.key_pepper_id)
    rng = random.Random(7)
    with engine.begin() as conn:
        national = conn.execute(
            insert(OrgUnit).values(level=OrgLevel.NATIONAL, name="Україна").returning(OrgUnit.id)
        ).scalar_one()
        unit_ids = conn.execute(
            insert(OrgUnit).returning(OrgUnit.id, sort_by_parameter_order=True),
            [{"level": OrgLevel.SCHOOL, "name": f"Ліцей №{i + 1}", "parent_id": national}
             for i in range(SCHOOLS)],
        ).scalars().all()  # fmt: skip
        # 1% of schools each: account suspended, account deactivated (states that deny).
        account_rows = []
        for i, unit_id in enumerate(unit_ids):
            state, reason = AccountState.ACTIVE, None
            if i % 100 == 2:
                state = AccountState.SUSPENDED
            elif i % 100 == 3:
                state, reason = AccountState.DEACTIVATED, "liquidation"
            account_rows.append({"org_unit_id": unit_id, "state": state, "deactivation_reason": reason,
                                 "deactivated_at": datetime.now(UTC) if reason else None})  # fmt: skip
        account_ids = conn.execute(
            insert(Account).returning(Account.id, sort_by_parameter_order=True), account_rows
        ).scalars().all()  # fmt: skip
        tokens, key_rows = [], []
        for i, account_id in enumerate(account_ids):
            public_id = base32_id()
            secret = secrets.token_bytes(32)
            tokens.append(compose_token("api", public_id, secret))
            # 1% of schools each: key deactivated, key suspended.
            key_state = {0: KeyState.DEACTIVATED, 1: KeyState.SUSPENDED}.get(i % 100, KeyState.ACTIVE)
            key_rows.append({
                "account_id": account_id, "kind": KeyKind.API, "public_id": public_id,
                "secret_hash": hash_secret(secret, pepper), "pepper_id": settings.key_pepper_id,
                "scopes": ["data:read"], "state": key_state,
            })  # fmt: skip
        key_ids = conn.execute(
            insert(AccessKey).returning(AccessKey.id, sort_by_parameter_order=True), key_rows
        ).scalars().all()  # fmt: skip
        client_ids = [f"ois-bench-{n:02d}" for n in range(OIS_COUNT)]
        ois_ids = conn.execute(
            insert(Ois).returning(Ois.id, sort_by_parameter_order=True),
            [{
                "system_name": f"ОІС {n}", "company_name": f"ТОВ «ОІС {n}»",
                "company_edrpou": f"{40000000 + n}",
                "contact_email": f"ois{n}@example.com", "client_id": client_ids[n],
                # The last ОІС is suspended: its schools' requests are denied.
                "state": OisState.SUSPENDED if n == OIS_COUNT - 1 else OisState.CONNECTED,
                "capability": OisCapability.RECEIVE, "self_assessment": {},
            } for n in range(OIS_COUNT)],
        ).scalars().all()  # fmt: skip
        now = datetime.now(UTC)
        conn.execute(insert(OisPhase), [
            {"ois_id": o, "capability": OisCapability.RECEIVE, "effective_from": now - timedelta(days=30)}
            for o in ois_ids
        ] + [
            {"ois_id": o, "capability": OisCapability.RECEIVE_TRANSMIT,
             "effective_from": now + timedelta(days=365)}
            for o in ois_ids
        ])  # fmt: skip
        conn.execute(insert(OisGrant), [
            {"ois_id": ois_ids[i % OIS_COUNT], "school_org_unit_id": unit_ids[i], "api_key_id": key_ids[i],
             "data_sets": GRANTED, "capability": OisCapability.RECEIVE, "state": GrantState.ACTIVE}
            for i in range(SCHOOLS)
        ])  # fmt: skip
    with lines_path.open("w") as out:
        for i, token in enumerate(tokens):
            other = client_ids[(i + 1 + rng.randrange(OIS_COUNT - 2)) % OIS_COUNT]
            out.write(f"{token} {client_ids[i % OIS_COUNT]} {other}\n")
    good = [i for i in range(SCHOOLS) if i % 100 >= 4 and i % OIS_COUNT != OIS_COUNT - 1]
    return {"tokens": tokens, "client_ids": client_ids, "good": good, "unit_ids": unit_ids,
            "ois_ids": ois_ids}  # fmt: skip


def base32_id() -> str:
    import base64

    return base64.b32encode(secrets.token_bytes(10)).decode("ascii").rstrip("=").lower()


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("Installing Debian's wrk …", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env, stdout=subprocess.DEVNULL)
    return shutil.which("wrk") or "wrk"


def server_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of the server and its worker processes so far."""
    import psutil

    total = 0.0
    root = psutil.Process(pid)
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def run_wrk(
    wrk: str, url: str, path: str, lua: Path, lines: Path, args: argparse.Namespace, seconds: int,
    server_pid: int | None = None,
) -> dict[str, float]:  # fmt: skip
    env = dict(os.environ, OIS_BENCH_SCHOOLS=str(lines), OIS_BENCH_PATH=path, OIS_BENCH_SECRET=SECRET)
    command = [wrk, f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s", "--latency",
               "-s", str(lua), url]  # fmt: skip
    cpu_before = server_cpu_seconds(server_pid) if server_pid else 0.0
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    cpu = server_cpu_seconds(server_pid) - cpu_before if server_pid else 0.0
    print(out, flush=True)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"99%\s+([\d.]+)(us|ms|s)", out))  # type: ignore[arg-type]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    requests = float(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    if server_pid:
        print(f"server CPU per request: {cpu / requests * 1e6:.0f} µs ({cpu:.1f} CPU-s for {requests:.0f})")
    return {"rps": rps, "p99_ms": p99, "cpu_us": cpu / requests * 1e6,
            "non_2xx": float(non_2xx.group(1)) if non_2xx else 0.0,
            "socket_errors": 1.0 if errors else 0.0}  # fmt: skip


def _ms(match: re.Match[str]) -> float:
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


class Poller:
    """A client that asks for one school every 10 ms over keep-alive."""

    def __init__(self, port: int, token: str, client_id: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.headers = {"X-Gateway-Secret": SECRET, "X-Api-Key": token, "Content-Type": "application/json"}
        self.body = json.dumps({"client_id": client_id, "data_set": "classes", "operation": "read"})

    def reason(self) -> str:
        self.conn.request("POST", "/v1/decide", body=self.body, headers=self.headers)
        response = self.conn.getresponse()
        payload = json.loads(response.read())
        return str(payload["reason"])

    def until(self, want: str, timeout: float = 10.0) -> float | None:
        """Poll every 10 ms until the reason is `want`; when it was seen (monotonic), or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.reason() == want:
                return time.monotonic()
            time.sleep(0.01)
        return None


def measure_revocations(
    engine: Engine, port: int, data: dict[str, Any], count: int, start_after: float
) -> list[float]:
    """Revoke `count` schools' grants one by one under load; seconds from each commit to the first denial."""
    time.sleep(start_after)
    rng = random.Random(11)
    results: list[float] = []
    for i in rng.sample(data["good"], count):
        poller = Poller(port, data["tokens"][i], data["client_ids"][i % OIS_COUNT])
        if poller.until("allowed") is None:
            raise RuntimeError("a school with a grant was not allowed before its revocation")
        with engine.begin() as conn:
            conn.execute(
                update(OisGrant)
                .where(
                    OisGrant.school_org_unit_id == data["unit_ids"][i], OisGrant.state == GrantState.ACTIVE
                )
                .values(state=GrantState.REVOKED, revoked_at=datetime.now(UTC), revoke_reason="bench")
            )
        committed = time.monotonic()
        denied = poller.until("no_grant")
        if denied is None:
            raise RuntimeError("a revoked grant was still allowed after 10 s")
        results.append(denied - committed)
        poller.conn.close()
        time.sleep(0.5)
    return results


def garbage_burst(port: int, client_id: str, count: int = 10_000, clients: int = 8) -> dict[int, int]:
    """`count` requests with garbage keys from one ОІС at once: HTTP statuses and their numbers."""
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def send(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        body = json.dumps({"client_id": client_id, "data_set": "classes", "operation": "read"})
        for i in range(n):
            headers = {"X-Gateway-Secret": SECRET, "X-Api-Key": f"aika_{secrets.token_hex(8)}_{i}",
                       "Content-Type": "application/json"}  # fmt: skip
            conn.request("POST", "/v1/decide", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            with lock:
                statuses[response.status] = statuses.get(response.status, 0) + 1
        conn.close()

    threads = [threading.Thread(target=send, args=(count // clients,)) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def decision_counts(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text_ = response.read().decode()
    counts: dict[str, float] = {}
    for line in text_.splitlines():
        m = re.match(r'aikom_ois_decisions_total\{outcome="(\w+)",reason="(\w+)"\} ([\d.e+]+)', line)
        if m:
            counts[m.group(2)] = float(m.group(3))
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--revocations", type=int, default=5)
    args = parser.parse_args()

    settings = get_settings()
    wrk = ensure_wrk()
    # A throwaway database on the tests' and benches' server (not the stack's own embedded one).
    server = make_url(scratch_server_url(Path(tempfile.mkdtemp(prefix="ois-bench-pg-"))))
    name = f"aikom_bench_{uuid.uuid4().hex[:10]}"
    url = server.set(database=name).render_as_string(hide_password=False)
    upgrade_database(Settings(database_url=url), url)
    engine = create_engine(url)
    work = Path(tempfile.mkdtemp(prefix="ois-bench-"))
    child: subprocess.Popen[bytes] | None = None
    try:
        started = time.perf_counter()
        data = populate(engine, settings, work / "schools.txt")
        with engine.connect() as conn:
            grants = conn.execute(select(text("count(*)")).select_from(OisGrant)).scalar_one()
        print(f"{SCHOOLS} schools, {grants} grants, {OIS_COUNT} ОІС in {time.perf_counter() - started:.1f} s")
        lua = work / "decide.lua"
        lua.write_text(LUA, encoding="utf-8")

        port = _free_port()
        env = dict(
            os.environ, AIKOM_DATABASE_URL=url, AIKOM_OIS_GATEWAY_SECRET=SECRET,
            AIKOM_OIS_GATEWAY_HELLO_ROUTE="true",
        )  # fmt: skip
        log_path = work / "gateway.log"
        command = [
            str(Path(sys.executable).with_name("aikom")),
            "ois",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ]
        child = subprocess.Popen(command, env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(base + "/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the decision point did not start:\n" + log_path.read_text()[-3000:])
            time.sleep(0.2)

        cores = os.cpu_count() or 0
        print(f"cores: {cores}; server workers: {args.workers}; wrk -t{args.threads} -c{args.connections} "
              f"-d{args.seconds}s")  # fmt: skip
        # The hello-world peer runs half before and half after the decisions: the machine is shared, and
        # its load drifts; the ratio compares the decisions with the mean of both halves.
        half = max(1, args.seconds // 2)
        print(f"--- hello-world route (POST /v1/hello, same server), first {half} s ---", flush=True)
        hello_before = run_wrk(wrk, base, "/v1/hello", lua, work / "schools.txt", args, half, child.pid)

        print("--- access decisions (POST /v1/decide) ---", flush=True)
        before = decision_counts(port)
        revocations: list[float] = []
        errors: list[BaseException] = []

        def revoke() -> None:
            try:
                revocations.extend(
                    measure_revocations(engine, port, data, args.revocations, start_after=args.seconds / 4)
                )
            except BaseException as error:  # reported below
                errors.append(error)

        revoker = threading.Thread(target=revoke, daemon=True)
        revoker.start()
        decide = run_wrk(wrk, base, "/v1/decide", lua, work / "schools.txt", args, args.seconds, child.pid)
        revoker.join(timeout=120)
        if errors:
            raise errors[0]
        after = decision_counts(port)
        print(f"--- hello-world route, second {half} s ---", flush=True)
        hello_after = run_wrk(wrk, base, "/v1/hello", lua, work / "schools.txt", args, half, child.pid)
        hello_rps = (hello_before["rps"] + hello_after["rps"]) / 2
        hello_p99 = max(hello_before["p99_ms"], hello_after["p99_ms"])
        print(f"hello-world: {hello_before['rps']:.0f} and {hello_after['rps']:.0f} req/s, "
              f"mean {hello_rps:.0f}; p99 {hello_p99:.2f} ms")  # fmt: skip
        delta = {reason: after.get(reason, 0.0) - before.get(reason, 0.0) for reason in after}
        total = sum(delta.values())
        denied = total - delta.get("allowed", 0.0)
        print("decisions by reason:", {k: int(v) for k, v in sorted(delta.items()) if v})
        print(f"denied share: {denied / total:.1%}; non-2xx answers: {int(decide['non_2xx'])}")
        print("revocation seconds:", [round(r, 3) for r in revocations])
        statuses = garbage_burst(port, data["client_ids"][0])
        survivor = Poller(
            port, data["tokens"][data["good"][-1]], data["client_ids"][data["good"][-1] % OIS_COUNT]
        )
        answered = survivor.until("allowed") is not None
        print(f"10,000 garbage keys from one ОІС at once: HTTP statuses {statuses}; "
              f"afterwards a good key of another school allowed: {answered}")  # fmt: skip
        print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
        ratio = decide["rps"] / hello_rps
        print(
            f"RESULT decisions_per_s={decide['rps']:.0f} hello_ratio={ratio:.2f} "
            f"p99_ms={decide['p99_ms']:.2f} revocation_s={max(revocations):.3f} cores={cores}"
        )
    finally:
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        engine.dispose()
        admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
