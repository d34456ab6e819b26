"""Where readings come from (``sources``) and what is read from them (``signals``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from cockpit.config.base import Duration, PathText, Strict, within

# Bounds (both included), refused at the field's line outside them:
ConnectTimeout = Annotated[Duration, within("100ms", "5m")]  # connecting to a source
ReadTimeout = Annotated[Duration, within("100ms", "10m")]  # one HTTP read, one signal's read
StatementTimeout = Annotated[Duration, within("100ms", "1h")]  # one probe query on PostgreSQL
PollInterval = Annotated[Duration, within("1s", "1h")]  # a floor, so a source is never polled in a tight loop


class PostgresSource(Strict):
    type: Literal["postgres"]
    dsn: str
    description: str = ""
    connect_timeout: ConnectTimeout = 5.0
    """Connecting (libpq ``connect_timeout``): 100ms to 5m."""
    statement_timeout: StatementTimeout = 10.0
    """Each probe query (server-side ``statement_timeout``): 100ms to 1h."""
    max_concurrent: int = Field(default=2, ge=1, le=16)
    application_name: str = "cutover-cockpit"


class HttpSource(Strict):
    type: Literal["http"]
    url: str
    description: str = ""
    headers: dict[str, str] = {}
    verify_tls: bool = True
    ca_file: PathText | None = None
    connect_timeout: ConnectTimeout = 3.0
    """Connecting: 100ms to 5m."""
    timeout: ReadTimeout = 5.0
    """The whole read (every request of a transaction): 100ms to 10m."""
    max_bytes: int = Field(default=1_000_000, ge=1024, le=100_000_000)
    max_redirects: int = Field(default=5, ge=0, le=20)


class PrometheusSource(Strict):
    type: Literal["prometheus"]
    url: str
    description: str = ""
    headers: dict[str, str] = {}
    verify_tls: bool = True
    ca_file: PathText | None = None
    connect_timeout: ConnectTimeout = 3.0
    """Connecting: 100ms to 5m."""
    timeout: ReadTimeout = 5.0
    """The whole read (every request of a transaction): 100ms to 10m."""
    max_bytes: int = Field(default=1_000_000, ge=1024, le=100_000_000)
    max_redirects: int = Field(default=5, ge=0, le=20)


class HelpdeskSource(Strict):
    type: Literal["helpdesk"]
    preset: Literal["jira", "servicenow", "zendesk"]
    url: str
    description: str = ""
    headers: dict[str, str] = {}
    verify_tls: bool = True
    ca_file: PathText | None = None
    connect_timeout: ConnectTimeout = 3.0
    """Connecting: 100ms to 5m."""
    timeout: ReadTimeout = 5.0
    """The whole read (every request of a transaction): 100ms to 10m."""
    max_bytes: int = Field(default=1_000_000, ge=1024, le=100_000_000)
    max_redirects: int = Field(default=5, ge=0, le=20)


class SimulatedSource(Strict):
    type: Literal["simulated"]
    description: str = ""
    seed: int = 0


Source = Annotated[
    PostgresSource | HttpSource | PrometheusSource | HelpdeskSource | SimulatedSource,
    Field(discriminator="type"),
]

SOURCE_TYPES = ("postgres", "http", "prometheus", "helpdesk", "simulated")


class HttpStep(Strict):
    """One request of a synthetic transaction (log in, open a test chart, ...)."""

    method: Literal["GET", "POST", "PUT", "HEAD"] = "GET"
    path: str
    json_body: dict[str, Any] | None = Field(default=None, alias="json")
    expect_status: int = 200


class Heartbeat(Strict):
    """Opt-in: the only write the cockpit makes, to its own table on the source."""

    target: str
    table: str = "cockpit_heartbeat"


class Simulation(Strict):
    """A synthetic signal for demos and rehearsals."""

    base: float = 0.0
    noise: float = 0.0
    drift_per_min: float = 0.0
    minimum: float | None = None
    maximum: float | None = None
    boolean: bool = False
    decimals: int = Field(default=4, ge=0, le=6)  # 0 for counts such as open tickets
    titles: list[str] = []


class Signal(Strict):
    """What to read; which fields apply depends on the source's type (checked after loading)."""

    source: str
    title: str = ""
    unit: Literal["", "s", "ms", "%", "count", "B"] = ""
    """How values are written (``cockpit.units``): ``s`` a duration, ``ms``, ``%``, ``count``,
    ``B`` bytes; left out, inferred from the name's suffix (``_s``, ``_ms``, ``_pct``,
    ``_count``, ``_bytes``), else a plain number."""
    panel: Literal["replication", "clinical", "helpdesk", "recon", "other"] | None = None
    every: PollInterval = 10.0
    """Poll interval: 1s to 1h (a gate over the signal must allow it, see config.checks)."""
    timeout: ReadTimeout = 5.0
    """One read, after which the reading is an error: 100ms to 10m. It may exceed ``every``:
    polls of one signal never overlap (the next starts a full interval after a late one)."""
    history: int = Field(default=720, ge=2, le=100_000)
    # postgres
    probe: Literal["replication_lag", "heartbeat", "sql"] | None = None
    measure: Literal["seconds", "bytes", "latency_ms", "success", "count"] | None = None
    standby: str | None = None
    query: str | None = None
    heartbeat: Heartbeat | None = None
    # http
    path: str | None = None
    json_path: str | None = None
    transaction: list[HttpStep] | None = None
    # helpdesk
    titles: int = Field(default=5, ge=0, le=20)
    # simulated
    simulate: Simulation | None = None

    model_config = Strict.model_config | {"populate_by_name": True}
