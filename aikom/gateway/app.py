"""The ОІС access decision point over HTTP (FastAPI on uvicorn).

POST /v1/decide     headers X-Gateway-Secret (the gateway's), X-Api-Key (the school's key given to
                    the ОІС); JSON {"client_id", "data_set", "operation": "read"|"write"}
                    → 200 {"allow", "reason", "message"}; 400 bad request; 401 gateway not
                    authenticated; 429 too many requests from this ОІС; 503 snapshot not loaded yet
GET  /metrics       Prometheus metrics (decisions by outcome and reason, latency)
GET  /health        200 once the snapshot is loaded
"""

from __future__ import annotations

import hmac
import logging
import time
from bisect import bisect_left
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import orjson
from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from aikom.core.errors import DomainError
from aikom.core.ois_catalogue import get_catalogue
from aikom.db import database_url
from aikom.gateway.decision import OPERATIONS, Decision, Reason, Rules
from aikom.gateway.denials import DenialLog
from aikom.gateway.ratelimit import TokenBuckets
from aikom.gateway.snapshot import SnapshotListener
from aikom.settings import Settings

log = logging.getLogger("aikom.gateway")

MAX_FIELD = 200
MAX_BODY = 4096
LATENCY_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)

UNAUTHENTICATED_UK = (
    "Запит не автентифіковано: шлюз центральної бази даних має передати свій секрет у заголовку "
    "X-Gateway-Secret."
)
RATE_LIMITED_UK = "Забагато запитів від цієї ОІС: зачекайте й повторіть запит пізніше."
NOT_READY_UK = "Точка рішень про доступ ще завантажує дані; повторіть запит за кілька секунд."
BAD_REQUEST_UK = (
    "Некоректний запит: потрібні заголовок X-Api-Key і JSON з полями client_id, data_set та "
    "operation («read» або «write»), кожне — непорожній рядок до 200 символів."
)
REFUSAL_STATUSES = (400, 401, 429, 503)
BAD_KEY_REASONS = frozenset({Reason.KEY_MALFORMED, Reason.KEY_UNKNOWN})


DEMO_SECRET = Settings.model_fields["ois_gateway_secret"].default


class GatewaySecretNotSet(DomainError):
    """Outside demo mode the gateway's secret must be configured, never the shipped demo one."""

    code = "gateway_secret_not_set"

    def __init__(self) -> None:
        super().__init__(
            "Не налаштовано секрет шлюзу для точки рішень про доступ ОІС: задайте AIKOM_OIS_GATEWAY_SECRET "
            "(демонстраційне значення дозволене лише в демонстраційному режимі)."
        )


def require_gateway_secret(settings: Settings) -> None:
    """Refuse to serve outside demo mode with the shipped demo secret."""
    if not settings.demo_mode and settings.ois_gateway_secret == DEMO_SECRET:
        raise GatewaySecretNotSet()


class RequestStats(Collector):
    """Decisions by reason, refusals by status and the latency histogram, as plain integers.

    Written and read only on the event loop's thread (the /metrics handler runs there too), so no lock:
    prometheus_client's own counters take one per increment, and a request made four of them.
    """

    def __init__(self) -> None:
        self.decisions = dict.fromkeys(Reason, 0)
        self.refused = dict.fromkeys(REFUSAL_STATUSES, 0)
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self.latency_sum = 0.0

    def observe(self, seconds: float) -> None:
        self.buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.latency_sum += seconds

    def collect(self) -> Iterator[Metric]:
        decisions = CounterMetricFamily(
            "aikom_ois_decisions", "Access decisions by outcome (allow/deny) and reason.",
            labels=["outcome", "reason"],
        )  # fmt: skip
        for reason, count in self.decisions.items():
            decisions.add_metric(["allow" if reason == Reason.ALLOWED else "deny", reason.value], count)
        yield decisions
        refused = CounterMetricFamily(
            "aikom_ois_requests_refused",
            "Requests answered without a decision, by HTTP status (400, 401, 429, 503).",
            labels=["status"],
        )
        for status, count in self.refused.items():
            refused.add_metric([str(status)], count)
        yield refused
        cumulative, buckets = 0, []
        for bound, count in zip((*LATENCY_BUCKETS, float("inf")), self.buckets, strict=True):
            cumulative += count
            buckets.append((floatToGoString(bound), float(cumulative)))
        latency = HistogramMetricFamily(
            "aikom_ois_decision_seconds", "Time to answer one decision request, inside the server."
        )
        latency.add_metric([], buckets, sum_value=self.latency_sum)
        yield latency


class Metrics:
    """The decision point's Prometheus metrics, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = RequestStats()
        self.registry.register(self.requests)
        self.snapshot_updates = Counter(
            "aikom_ois_snapshot_updates",
            "Snapshot updates: full reloads and applied change notifications.",
            ["kind"],
            registry=self.registry,
        )
        self.snapshot_size = Gauge(
            "aikom_ois_snapshot_entries",
            "Entries in the in-memory snapshot.",
            ["what"],
            registry=self.registry,
        )
        self.denials_not_logged = Counter(
            "aikom_ois_denials_not_logged",
            "Denials dropped from the log because too many came at once.",
            registry=self.registry,
        )

    def decided(self, reason: Reason) -> None:
        self.requests.decisions[reason] += 1

    def refused_with(self, status: int) -> None:
        self.requests.refused[status] += 1


def _json(status: int, body: dict[str, object]) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _refusal(status: int, code: str, message: str) -> Response:
    return _json(status, {"allow": False, "reason": code, "message": message})


def create_app(settings: Settings, *, listener: SnapshotListener | None = None) -> FastAPI:
    """The decision point's application; it loads and follows its snapshot while it runs."""
    require_gateway_secret(settings)
    metrics = Metrics()
    catalogue = get_catalogue(settings.ois_catalogue_path)
    peppers = {pid: value.encode("utf-8") for pid, value in settings.key_peppers.items() if value}
    rules = Rules(catalogue, peppers)
    secret = settings.ois_gateway_secret.encode("utf-8")
    callers = TokenBuckets(settings.ois_gateway_rate_per_s, settings.ois_gateway_burst)
    bad_keys = TokenBuckets(settings.ois_gateway_bad_key_rate_per_s, settings.ois_gateway_bad_key_burst)

    def on_change(kind: str) -> None:
        metrics.snapshot_updates.labels(kind).inc()
        snap = follower.snapshot
        metrics.snapshot_size.labels("api_keys").set(len(snap.keys))
        metrics.snapshot_size.labels("ois").set(len(snap.ois_by_id))
        metrics.snapshot_size.labels("grants").set(len(snap.grants))

    denials = DenialLog(on_dropped=lambda n: metrics.denials_not_logged.inc(n))
    follower = listener or SnapshotListener(
        database_url(settings), full_reload_seconds=settings.ois_gateway_reload_seconds, on_change=on_change
    )
    if listener is not None:
        listener.on_change = on_change

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        denials.start()
        follower.start()
        log.info("ОІС access decision point ready: %d API keys, %d grants", len(follower.snapshot.keys),
                 len(follower.snapshot.grants))  # fmt: skip
        try:
            yield
        finally:
            follower.stop()
            denials.stop()

    app = FastAPI(
        title="АІКОМ: точка рішень про доступ ОІС", lifespan=lifespan, docs_url=None, redoc_url=None,
        openapi_url=None,
    )  # fmt: skip
    app.state.snapshot_listener = follower
    app.state.metrics = metrics

    async def decide_endpoint(request: Request) -> Response:
        started = time.perf_counter()
        presented = token = declared = None
        # One pass over the raw headers (Starlette's look-up scans them once per name).
        for name, value in request.scope["headers"]:
            if name == b"x-gateway-secret":
                presented = value
            elif name == b"x-api-key":
                token = value
            elif name == b"content-length":
                declared = value
        if presented is None or not hmac.compare_digest(presented, secret):
            metrics.refused_with(401)
            response = _refusal(401, "gateway_unauthenticated", UNAUTHENTICATED_UK)
        else:
            body = await _read_body(request, declared)
            response = _answer(token.decode("latin-1") if token is not None else None, body)
        metrics.requests.observe(time.perf_counter() - started)
        return response

    # The hot path (and the bench's hello-world peer) as plain routes: the request is read by hand,
    # so FastAPI's per-request dependency solving and validation would buy nothing here.
    app.add_route("/v1/decide", decide_endpoint, methods=["POST"])

    def _answer(token: str | None, body: bytes | None) -> Response:
        """The answer to an authenticated gateway."""
        if not follower.ready.is_set():
            metrics.refused_with(503)
            return _refusal(503, "not_ready", NOT_READY_UK)
        try:
            payload = orjson.loads(body) if body is not None else None
        except orjson.JSONDecodeError:
            payload = None
        fields = _fields(payload)
        if fields is None or not token or len(token) > MAX_FIELD:
            metrics.refused_with(400)
            return _refusal(400, "bad_request", BAD_REQUEST_UK)
        client_id, data_set, operation = fields
        snap = follower.snapshot
        caller = client_id if client_id in snap.ois_by_client else "(unknown ОІС)"
        if not callers.take(caller):
            metrics.refused_with(429)
            return _refusal(429, "rate_limited", RATE_LIMITED_UK)
        decision = rules.decide(
            snap,
            token=token,
            client_id=client_id,
            data_set=data_set,
            operation=operation,
            now=time.time(),
        )
        if decision.reason in BAD_KEY_REASONS and not bad_keys.take(caller):
            metrics.refused_with(429)
            return _refusal(429, "rate_limited", RATE_LIMITED_UK)
        metrics.decided(decision.reason)
        if not decision.allowed:
            denials.record(decision.reason.value, client_id, data_set, operation, decision.public_id)
        return _decision_response(decision)

    # Answers are few (a reason and its message): each is serialised once.
    answers: dict[tuple[Reason, str], bytes] = {}

    def _decision_response(decision: Decision) -> Response:
        body = answers.get((decision.reason, decision.message_uk))
        if body is None:
            body = orjson.dumps(
                {"allow": decision.allowed, "reason": decision.reason.value, "message": decision.message_uk}
            )
            answers[(decision.reason, decision.message_uk)] = body
        return Response(body, media_type="application/json")

    @app.get("/metrics")
    async def metrics_endpoint() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/health")
    async def health() -> Response:
        if not follower.ready.is_set():
            return _refusal(503, "not_ready", NOT_READY_UK)
        return _json(200, {"status": "ok"})

    if settings.ois_gateway_hello_route:

        async def hello(request: Request) -> Response:
            await request.body()
            return _json(200, {"hello": "world"})

        app.add_route("/v1/hello", hello, methods=["POST"])

    return app


async def _read_body(request: Request, declared: bytes | None) -> bytes | None:
    """The request body, or None when it is longer than a decision request can be."""
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await request.receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _fields(payload: object) -> tuple[str, str, str] | None:
    if not isinstance(payload, dict):
        return None
    client_id, data_set, operation = (
        payload.get("client_id"),
        payload.get("data_set"),
        payload.get("operation"),
    )
    if not (_text(client_id) and _text(data_set) and operation in OPERATIONS):
        return None
    return client_id, data_set, operation  # type: ignore[return-value]  # checked just above


def _text(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_FIELD


def create_app_from_settings() -> FastAPI:
    """The factory uvicorn workers import (`aikom.gateway.app:create_app_from_settings`)."""
    from aikom.settings import get_settings

    return create_app(get_settings())
