"""Cross-references that a schema cannot see: ids, gates, signals, sources, roles.

These run on the raw data, defensively, so they report alongside schema errors instead of
waiting for the schema to pass: the operator fixing a plan at 2 a.m. wants every problem at once.
"""

from __future__ import annotations

import difflib
from typing import Any

from cockpit import expr, jsonpath
from cockpit.config.plan import RESERVED_NAMESPACES, builtin_signal_names
from cockpit.config.problems import Problem
from cockpit.config.yamlpos import Path
from cockpit.durations import DurationError, parse_duration

_FIELDS_BY_TYPE = {
    "postgres": {"probe", "measure", "standby", "query", "heartbeat"},
    "http": {"path", "json_path", "transaction", "measure"},
    "prometheus": {"query"},
    "helpdesk": {"query", "titles"},
    "simulated": {"simulate"},
}
_SPECIFIC = set().union(*_FIELDS_BY_TYPE.values())


def _d(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list:
    return value if isinstance(value, list) else []


def _hint(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def cross_check(data: Any) -> list[Problem]:
    if not isinstance(data, dict):
        return []
    out: list[Problem] = []
    sources = _d(data.get("sources"))
    signals = _d(data.get("signals"))
    gates = _d(data.get("gates"))
    roles = _d(_d(data.get("operators")).get("roles"))
    out += _check_operators(data, roles)
    out += _check_signals(signals, sources)
    out += _check_reserved(signals)
    out += _check_gates(data, gates, signals)
    out += _check_windows(gates, signals)
    out += _check_runbook(data, gates, roles)
    out += _check_recon(data, sources)
    shared = _d(_d(data.get("cutover")).get("shared_journal"))
    if isinstance(shared.get("source"), str):
        out += _postgres_ref(("cutover", "shared_journal", "source"), shared["source"], sources)
    return out


def _postgres_ref(path: Path, name: str, sources: dict) -> list[Problem]:
    if name not in sources:
        return [Problem(path, f"unknown source '{name}'{_hint(name, list(sources))}")]
    if _d(sources[name]).get("type") != "postgres":
        return [Problem(path, f"source '{name}' must be of type postgres")]
    return []


def _check_operators(data: dict, roles: dict) -> list[Problem]:
    out: list[Problem] = []
    people = _l(_d(data.get("operators")).get("people"))
    seen: dict[str, int] = {}
    for i, person in enumerate(people):
        person = _d(person)
        name, role = person.get("name"), person.get("role")
        if isinstance(name, str):
            if name in seen:
                out.append(Problem(("operators", "people", i, "name"), f"duplicate operator '{name}' (first at people[{seen[name]}])"))
            seen.setdefault(name, i)
        if isinstance(role, str) and roles and role not in roles:
            out.append(Problem(("operators", "people", i, "role"), f"unknown role '{role}'{_hint(role, list(roles))}"))
    for rname, role in roles.items():
        for j, other in enumerate(_l(_d(role).get("confirm"))):
            if isinstance(other, str) and other != "*" and other not in roles:
                out.append(Problem(("operators", "roles", rname, "confirm", j), f"unknown role '{other}'{_hint(other, list(roles))}"))
    return out


def _check_signals(signals: dict, sources: dict) -> list[Problem]:
    out: list[Problem] = []
    for name, sig in signals.items():
        sig = _d(sig)
        src_name = sig.get("source")
        if not isinstance(src_name, str):
            continue
        if src_name not in sources:
            out.append(Problem(("signals", name, "source"), f"unknown source '{src_name}'{_hint(src_name, list(sources))}"))
            continue
        stype = _d(sources[src_name]).get("type")
        if not isinstance(stype, str) or stype not in _FIELDS_BY_TYPE:
            continue  # the schema reports a bad or missing type (a list would not even hash)
        allowed = _FIELDS_BY_TYPE[stype]
        for key in sig:
            if key in _SPECIFIC and key not in allowed:
                out.append(Problem(("signals", name, key), f"'{key}' does not apply to a {stype} source", at_key=True))
        out += _signal_shape(name, sig, stype, sources)
    return out


def _signal_shape(name: str, sig: dict, stype: str, sources: dict) -> list[Problem]:
    path = ("signals", name)
    out: list[Problem] = []
    if stype == "postgres":
        probe = sig.get("probe")
        if probe is None:
            out.append(Problem(path, "a postgres signal needs 'probe': replication_lag, heartbeat or sql"))
        elif probe == "sql" and not sig.get("query"):
            out.append(Problem(path, "probe 'sql' needs a 'query'"))
        elif probe == "heartbeat":
            hb = sig.get("heartbeat")
            if not isinstance(hb, dict):
                out.append(Problem(path, "probe 'heartbeat' needs 'heartbeat: {target: SOURCE}' (it is opt-in)"))
            elif isinstance(hb.get("target"), str):
                out += _postgres_ref((*path, "heartbeat", "target"), hb["target"], sources)
        if sig.get("measure") not in (None, "seconds", "bytes"):
            out.append(Problem((*path, "measure"), "a postgres signal measures 'seconds' or 'bytes'"))
    elif stype == "http":
        has_path = sig.get("json_path") is not None
        has_tx = sig.get("transaction") is not None
        if has_path == has_tx:
            out.append(Problem(path, "an http signal needs exactly one of 'json_path' (extract) or 'transaction' (measure)"))
        if has_path and isinstance(sig.get("json_path"), str):
            try:
                jsonpath.parse(sig["json_path"])
            except jsonpath.PathSyntaxError as exc:
                out.append(Problem((*path, "json_path"), f"bad JSON path: {exc}"))
        if has_tx and sig.get("measure") not in ("latency_ms", "success"):
            out.append(Problem(path, "a transaction signal needs 'measure: latency_ms' or 'measure: success'"))
    elif stype in ("prometheus", "helpdesk") and not sig.get("query"):
        out.append(Problem(path, f"a {stype} signal needs a 'query'"))
    return out


def _check_reserved(signals: dict) -> list[Problem]:
    """The cockpit's own signals (recon.*, exceptions.*...) cannot be shadowed by the plan's: a
    gate would flip between the two values on every poll."""
    out: list[Problem] = []
    for name in signals:
        ns = name.split(".", 1)[0] if isinstance(name, str) else None
        if ns in RESERVED_NAMESPACES:
            out.append(Problem(("signals", name), f"'{name}' is in the reserved namespace '{ns}.' "
                               "(the cockpit's own signals): give the signal another name", at_key=True))
    return out


def _seconds(value: Any, default: float) -> tuple[float, str] | None:
    """A duration as written (seconds, text), the default when absent, None when invalid
    (the schema reports that one)."""
    if value is None:
        return default, f"{_plain(default)} (the default)"
    try:
        return parse_duration(value), str(value).strip()
    except DurationError:
        return None


def _plain(seconds: float) -> str:
    from cockpit.durations import format_duration

    return format_duration(seconds)


def _check_windows(gates: dict, signals: dict) -> list[Problem]:
    """A window must be met by readings that cover it: each signal a gate reads is polled at
    least as often as its ``hold_for`` (when there is one) and its ``max_staleness``."""
    out: list[Problem] = []
    for gid, gate in gates.items():
        gate = _d(gate)
        try:
            used = expr.names(expr.parse(gate.get("expr")))
        except expr.ExprError:
            continue
        hold = _seconds(gate.get("hold_for"), 0.0)
        stale = _seconds(gate.get("max_staleness"), 60.0)
        for name in used:
            sig = signals.get(name)
            if not isinstance(sig, dict) or name.split(".", 1)[0] in RESERVED_NAMESPACES:
                continue  # built-in (no `every`), unknown (reported above) or reserved
            every = _seconds(sig.get("every"), 10.0)
            if every is None:
                continue
            where: Path
            if hold is not None and hold[0] > 0 and every[0] > hold[0]:
                where = ("gates", gid, "hold_for")
                out.append(Problem(where, f"signal '{name}' is read every {every[1]}, longer than this "
                                   f"gate's hold_for {hold[1]}: one reading would fill the window; "
                                   "read it more often or hold longer"))
            if stale is not None and every[0] > stale[0]:
                where = ("gates", gid, "max_staleness") if "max_staleness" in gate else ("gates", gid)
                out.append(Problem(where, f"signal '{name}' is read every {every[1]}, longer than this "
                                   f"gate's max_staleness {stale[1]}: the gate would be UNKNOWN between "
                                   "readings; read it more often or allow older data"))
    return out


def _check_gates(data: dict, gates: dict, signals: dict) -> list[Problem]:
    out: list[Problem] = []
    known = set(signals) | builtin_signal_names(data)
    for gid, gate in gates.items():
        text = _d(gate).get("expr")
        if not isinstance(text, str):
            continue
        path = ("gates", gid, "expr")
        try:
            tree = expr.parse(text)
        except expr.ExprError as exc:
            offset = exc.column if "\n" not in text else None
            out.append(Problem(path, f"expression does not parse: {exc}", column_offset=offset))
            continue
        for name in expr.names(tree):
            if name not in known:
                col = text.find(name) + 1 if "\n" not in text else None
                out.append(Problem(path, f"unknown signal '{name}'{_hint(name, sorted(known))}", column_offset=col or None))
    return out


def _steps(data: dict) -> list[tuple[Path, dict]]:
    runbook = _d(data.get("runbook"))
    found: list[tuple[Path, dict]] = []
    for base, phases in ((("runbook", "phases"), runbook.get("phases")),
                         (("runbook", "rollback", "phases"), _d(runbook.get("rollback")).get("phases"))):
        for i, phase in enumerate(_l(phases)):
            for j, step in enumerate(_l(_d(phase).get("steps"))):
                if isinstance(step, dict):
                    found.append(((*base, i, "steps", j), step))
    return found


def _check_runbook(data: dict, gates: dict, roles: dict) -> list[Problem]:
    out: list[Problem] = []
    runbook = _d(data.get("runbook"))
    phase_ids: dict[str, Path] = {}
    for base, phases in ((("runbook", "phases"), runbook.get("phases")),
                         (("runbook", "rollback", "phases"), _d(runbook.get("rollback")).get("phases"))):
        for i, phase in enumerate(_l(phases)):
            pid = _d(phase).get("id")
            if isinstance(pid, str):
                if pid in phase_ids:
                    out.append(Problem((*base, i, "id"), f"duplicate phase id '{pid}'"))
                phase_ids.setdefault(pid, (*base, i))
    seen: dict[str, Path] = {}
    for path, step in _steps(data):
        sid = step.get("id")
        if isinstance(sid, str):
            if sid in seen:
                first = seen[sid]
                out.append(Problem((*path, "id"), f"duplicate step id '{sid}' (first used at {_short(first)})"))
            else:
                seen[sid] = path
        for k, gid in enumerate(_l(step.get("requires"))):
            if isinstance(gid, str) and gid not in gates:
                out.append(Problem((*path, "requires", k), f"requires unknown gate '{gid}'{_hint(gid, list(gates))}"))
        owner = step.get("owner")
        if isinstance(owner, str) and roles and owner not in roles:
            out.append(Problem((*path, "owner"), f"owner '{owner}' is not a role in operators.roles{_hint(owner, list(roles))}"))
    return out


def _short(path: Path) -> str:
    from cockpit.config.problems import dotted

    return dotted(path)


def _check_recon(data: dict, sources: dict) -> list[Problem]:
    recon = data.get("reconciliation")
    if not isinstance(recon, dict):
        return []
    out: list[Problem] = []
    for side in ("source", "target"):
        if isinstance(recon.get(side), str):
            out += _postgres_ref(("reconciliation", side), recon[side], sources)
    names: dict[str, int] = {}
    for i, table in enumerate(_l(recon.get("tables"))):
        name = _d(table).get("name")
        if isinstance(name, str):
            if name in names:
                out.append(Problem(("reconciliation", "tables", i, "name"), f"duplicate table '{name}'"))
            names.setdefault(name, i)
    ids: set[str] = set()
    for i, check in enumerate(_l(recon.get("domain"))):
        check = _d(check)
        path = ("reconciliation", "domain", i)
        cid = check.get("id")
        if isinstance(cid, str):
            if cid in ids:
                out.append(Problem((*path, "id"), f"duplicate domain check '{cid}'"))
            ids.add(cid)
        kind = check.get("check")
        need = {
            "duplicates": ("table", "columns"),
            "orphans": ("table", "column", "parent_table", "parent_key"),
            "required": ("table", "columns"),
            "per_parent_count": ("table", "parent_key"),
            "sql": ("sql",),
        }.get(kind, ()) if isinstance(kind, str) else ()
        for field in need:
            if not check.get(field):
                out.append(Problem(path, f"a '{kind}' check needs '{field}'"))
    return out
