"""Prometheus instant queries: ``GET {url}/api/v1/query?query=...`` -> one number.

A scalar, or a vector with exactly one sample, is the reading. An empty vector, several samples,
a range (matrix) or string result, a non-finite sample ("NaN", "+Inf") and an error status are
error readings with the reason. Prometheus answers a bad query with 400/422 and a JSON error
body; that body's ``errorType: error`` is the reason, not the bare HTTP status.
"""

from __future__ import annotations

import math
import re

from cockpit.config.sources import Signal
from cockpit.signals.http import Answer, FetchError, HttpBase, parse_json
from cockpit.signals.reading import Reading
from cockpit.text import clean

_SAMPLE = re.compile(r"^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|Inf|NaN)$")
_NOT_PROM = "not a Prometheus query answer"


def _sample(raw: object) -> float:
    # Prometheus sends sample values as strings so NaN and infinities survive JSON.
    if not isinstance(raw, str) or not _SAMPLE.match(raw):
        raise FetchError(f"{_NOT_PROM} (bad sample value)")
    value = float(raw)
    if not math.isfinite(value):
        raise FetchError("value is not a finite number")
    return value


def _pair_value(pair: object) -> float:
    if not isinstance(pair, list) or len(pair) != 2:
        raise FetchError(f"{_NOT_PROM} (bad sample)")
    return _sample(pair[1])


def interpret(answer: Answer) -> float:
    """The reading's value from a query answer, or :class:`FetchError` with the reason."""
    ok_status = 200 <= answer.status < 300
    try:
        doc = parse_json(answer.body)
    except FetchError:
        raise FetchError("not JSON" if ok_status else answer.status_text()) from None
    if not isinstance(doc, dict):
        raise FetchError(_NOT_PROM if ok_status else answer.status_text())
    status = doc.get("status")
    if status == "error":
        kind = clean(doc.get("errorType") or "error", 40, single_line=True)
        why = clean(doc.get("error") or "", 200, single_line=True)
        raise FetchError(f"query failed: {kind}: {why}" if why else f"query failed: {kind}")
    if status != "success" or not ok_status:
        raise FetchError(answer.status_text() if not ok_status else _NOT_PROM)
    data = doc.get("data")
    if not isinstance(data, dict):
        raise FetchError(_NOT_PROM)
    result_type, result = data.get("resultType"), data.get("result")
    if result_type == "scalar":
        return _pair_value(result)
    if result_type == "vector":
        if not isinstance(result, list):
            raise FetchError(_NOT_PROM)
        if not result:
            raise FetchError("empty result: no series match")
        if len(result) > 1:
            raise FetchError(f"{len(result)} series: the query must return one")
        sample = result[0]
        if not isinstance(sample, dict):
            raise FetchError(_NOT_PROM)
        return _pair_value(sample.get("value"))
    if result_type == "matrix":
        raise FetchError("range vector (matrix) result: the query must return one instant value")
    if result_type == "string":
        raise FetchError("string result, not a number")
    raise FetchError(f"{_NOT_PROM} (resultType {clean(result_type, 20, single_line=True)!r})")


class PrometheusClient(HttpBase):
    async def _read(self, signal_name: str, signal: Signal) -> Reading:
        started = self.clock.monotonic()
        if not signal.query:
            return self.error(signal_name, "a prometheus signal needs a 'query'", started)
        try:
            answer = await self.fetch(self.shared(), "GET", "/api/v1/query", deadline=self.deadline(),
                                      params={"query": signal.query}, error_body=True)
            value = interpret(answer)
        except FetchError as exc:
            return self.error(signal_name, str(exc), started)
        return self.value(signal_name, value, started)
