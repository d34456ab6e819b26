"""The one table of source clients: a plan's ``type`` to the class that reads it.

Written out rather than filled in by the clients as they are imported, so there is no import
loop between :mod:`cockpit.signals.base` and the clients, and a client is reachable only from
here. Importing this module imports every client (httpx, psycopg): callers that may never poll
import it late, when they build the clients.
"""

from __future__ import annotations

from collections.abc import Callable

from cockpit.clock import Clock
from cockpit.config.sources import Source
from cockpit.signals.base import SourceClient
from cockpit.signals.helpdesk import HelpdeskClient
from cockpit.signals.http import HttpClient
from cockpit.signals.postgres import PostgresSource
from cockpit.signals.prometheus import PrometheusClient
from cockpit.signals.simulated import SimulatedSource

CLIENTS: dict[str, type[SourceClient]] = {
    "postgres": PostgresSource,
    "http": HttpClient,
    "prometheus": PrometheusClient,
    "helpdesk": HelpdeskClient,
    "simulated": SimulatedSource,
}


def make_source(name: str, config: Source, clock: Clock,
                redact: Callable[[str], str] = lambda s: s) -> SourceClient:
    try:
        cls = CLIENTS[config.type]
    except KeyError:
        raise ValueError(f"no client for source type {config.type!r}") from None
    return cls(name, config, clock, redact)
