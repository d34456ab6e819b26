"""The plan's ``notify`` section: the command channel's targets and the events each receives.

A webhook URL is a secret (whoever holds it posts as the cockpit): it must come from the
environment, ``url: "${SLACK_HOOK}"`` (checked on the raw plan by :func:`check_notify`, before
substitution, like every other secret), and it is never printed. The SMTP password likewise
(``password: "${SMTP_PASSWORD}"``, the plan's usual secret rule).

Events a target may ask for (the vocabulary, :data:`EVENTS`; the README's "Notifications"):
each is a name, or a one-key mapping of the name to its options::

    events:
      - step.fail
      - gate.change: {only: [NO-GO, UNKNOWN], dwell: 2m}
      - journal.head: {every: 50}
"""

from __future__ import annotations

import difflib
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Discriminator, Field, Tag, model_validator

from cockpit.config.base import Duration, Ident, PathText, Strict, within
from cockpit.config.problems import Problem
from cockpit.config.yamlpos import Path

EVENTS: dict[str, str] = {
    "gate.change": "a gate turned (options: only: [states], dwell: duration)",
    "step.confirm": "a step was confirmed",
    "step.skip": "a step was skipped",
    "step.fail": "a step failed",
    "decision": "a GO / NO-GO decision was recorded",
    "override": "a gate was overridden for a step",
    "approval.request": "a two-person request waits for the second person",
    "approval": "a two-person request was granted or rejected",
    "rollback.start": "the rollback started",
    "rollback.finish": "the last rollback step was done",
    "recon.finished": "a reconciliation run finished (counts only)",
    "exception.clinical": "an exception waits for clinical approval",
    "source.lost": "a gate went UNKNOWN because its signals could not be read",
    "journal.head": "the journal head every N entries (options: every: N), a witness",
}
GateState = Literal["GO", "HOLD", "NO-GO", "UNKNOWN"]
GATE_STATES: tuple[GateState, ...] = ("GO", "HOLD", "NO-GO", "UNKNOWN")
TYPES = ("slack", "teams", "mattermost", "webhook", "email")

Dwell = Annotated[Duration, within("0s", "1h")]
Timeout = Annotated[Duration, within("100ms", "2m")]


class GateOptions(Strict):
    only: list[GateState] = list(GATE_STATES)
    """Only turns into these states are sent."""
    dwell: Dwell = 0.0
    """A turn is sent once the gate has stayed in it this long; a turn undone sooner (a
    flapping gate) is never sent: 0s to 1h."""


class HeadOptions(Strict):
    every: int = Field(default=100, ge=1, le=1_000_000)
    """The head is sent at each entry whose seq is a multiple of this."""


class Subscription(Strict):
    event: str
    gate: GateOptions | None = None
    head: HeadOptions | None = None


def _subscriptions(value: Any) -> Any:
    """``events`` as written (names, or {name: options}) into :class:`Subscription` data;
    unknown names and bad shapes are refused at their place (a ValueError per item)."""
    if not isinstance(value, list):
        return value
    out: list[Any] = []
    for item in value:
        if isinstance(item, str):
            name, options = item, None
        elif isinstance(item, dict) and len(item) == 1:
            (name, options), = item.items()
        else:
            raise ValueError("each event is a name, or one name mapped to its options")
        if not isinstance(name, str) or name not in EVENTS:
            close = difflib.get_close_matches(str(name), list(EVENTS), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ValueError(f"unknown event {str(name)[:40]!r}{hint}; events: {', '.join(EVENTS)}")
        if options is not None and name not in ("gate.change", "journal.head"):
            raise ValueError(f"event {name!r} takes no options")
        if name == "gate.change":
            out.append({"event": name, "gate": options or {}})
        elif name == "journal.head":
            out.append({"event": name, "head": options or {}})
        else:
            out.append({"event": name})
    return out


Events = Annotated[list[Subscription], BeforeValidator(_subscriptions)]


class _Target(Strict):
    events: Events = Field(min_length=1)
    max_attempts: int = Field(default=8, ge=1, le=100)
    """Failed attempts after which a message is a dead letter (a permanent refusal at once)."""
    timeout: Timeout = 10.0
    """One delivery attempt, connecting included: 100ms to 2m."""

    def wants(self, event: str) -> Subscription | None:
        return next((s for s in self.events if s.event == event), None)


class WebhookTarget(_Target):
    type: Literal["slack", "teams", "mattermost", "webhook"]
    url: str
    """From the environment: ``"${VAR}"`` (a webhook URL is a secret)."""
    ca_file: PathText | None = None
    verify_tls: bool = True


class EmailTarget(_Target):
    type: Literal["email"]
    host: str
    port: int = Field(ge=1, le=65535)
    from_: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    starttls: bool = True
    """STARTTLS before anything is sent (default on; off only for a relay on the host)."""
    user: str | None = None
    password: str | None = None
    ca_file: PathText | None = None

    @model_validator(mode="after")
    def _addresses(self) -> EmailTarget:
        for addr in (self.from_, *self.to):
            if "@" not in addr or any(c in addr for c in "\r\n<>,;\"") or " " in addr.strip():
                raise ValueError(f"{addr[:60]!r} is not a plain e-mail address (name@host)")
        if self.password is not None and self.user is None:
            raise ValueError("a password needs a user")
        if self.password is not None and not self.starttls:
            raise ValueError("a password is sent only over STARTTLS: remove starttls: false")
        return self


class UnknownTarget(_Target):
    """A target whose ``type`` is none of :data:`TYPES`: :func:`check_notify` refuses it at its
    ``type`` (one line there, instead of a union's errors); this only lets the rest validate."""

    model_config = ConfigDict(**{**Strict.model_config, "extra": "allow"})
    type: str | None = None


def _kind(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return "email" if kind == "email" else "hook" if kind in TYPES else "unknown"


Target = Annotated[Annotated[WebhookTarget, Tag("hook")] | Annotated[EmailTarget, Tag("email")]
                   | Annotated[UnknownTarget, Tag("unknown")], Discriminator(_kind)]


class Notify(Strict):
    targets: dict[Ident, Target] = Field(min_length=1)


def check_notify(data: Any) -> list[Problem]:
    """On the raw plan (before ``${VAR}`` is filled in): a webhook URL written into the plan
    is refused (it is a secret), and a target's type must be one of :data:`TYPES`."""
    notify = data.get("notify") if isinstance(data, dict) else None
    targets = notify.get("targets") if isinstance(notify, dict) else None
    problems: list[Problem] = []
    for name, target in targets.items() if isinstance(targets, dict) else ():
        if not isinstance(target, dict):
            continue
        path: Path = ("notify", "targets", name)
        kind = target.get("type")
        if kind not in TYPES:
            problems.append(Problem((*path, "type") if "type" in target else path,
                                    f"a target's type is one of {', '.join(TYPES)}"
                                    if "type" in target else f"missing 'type': one of {', '.join(TYPES)}",
                                    at_key="type" not in target))
            continue
        url = target.get("url")
        if kind != "email" and isinstance(url, str) and "${" not in url:
            problems.append(Problem((*path, "url"), "a webhook URL is a secret: put it in an "
                                    f"environment variable and write url: \"${{{_env(name)}}}\""))
    return problems


def _env(name: Any) -> str:
    return "".join(c if c.isalnum() else "_" for c in f"NOTIFY_{name}_URL").upper()
