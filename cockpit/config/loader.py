"""Read a plan file: limits, YAML, ``${VAR}`` substitution, schema, cross-checks."""

from __future__ import annotations

import difflib
import os
import re
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from cockpit.config import plan as plan_mod
from cockpit.config.checks import cross_check
from cockpit.config.notify import check_notify
from cockpit.config.plan import Plan
from cockpit.config.problems import PlanError, Problem, dotted
from cockpit.config.runbook import env_declarations
from cockpit.config.secrets import check_secrets
from cockpit.config.yamlpos import Mark, Path, Positions, YamlProblem, load
from cockpit.redact import Redactor
from cockpit.text import clean

MAX_BYTES = 5 * 1024 * 1024
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def load_plan(path: str | os.PathLike, *, for_run: bool = True,
              env: Mapping[str, str] | None = None) -> tuple[Plan, list[str]]:
    """The validated plan and its warnings, or :class:`PlanError` with every problem.

    ``for_run`` makes a missing environment variable an error (the cockpit is about to use
    it); ``cockpit check`` passes False so a plan can be checked on a laptop without secrets.
    """
    env = os.environ if env is None else env
    fs_path = FsPath(path)
    name = str(path)
    text = _read(fs_path, name)
    try:
        data, pos, dups = load(text)
    except YamlProblem as exc:
        mark = exc.mark or Mark(1, 1)
        raise PlanError([f"{name}:{mark.line}:{mark.col}: {clean(exc.message, 300, single_line=True)}"]) from None
    problems: list[Problem] = [
        Problem(d.path, f"duplicate key '{d.path[-1]}' (first at line {d.first.line})", mark=d.mark)
        for d in dups
    ]
    if not isinstance(data, dict):
        raise PlanError([f"{name}:1:1: (top): a plan is a mapping with 'cutover', 'operators', 'runbook', ... at the top"])
    problems += check_secrets(data) + check_notify(data)
    data, secrets, origins, env_problems = _substitute(data, env, for_run)
    env_problems += _passed_env(data, env, for_run, secrets)
    _anchor_paths(data, fs_path.resolve().parent)
    problems += env_problems
    plan = None
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        problems += _schema_problems(exc, data, origins)
    problems += cross_check(data)
    # Values from the environment may be secrets that landed in the wrong field (a password
    # in `every:`); no message may carry one, whoever built it.
    redact = Redactor(secrets)
    problems = [replace(p, message=redact(p.message)) for p in problems]
    errors = [p.render(name, pos) for p in _ordered(problems, pos) if not p.warning]
    warnings = [p.render(name, pos) for p in _ordered(problems, pos) if p.warning]
    if errors or plan is None:
        raise PlanError(errors or [f"{name}:1:1: (top): invalid plan"], warnings)
    plan._path = fs_path.resolve()
    plan._secrets = frozenset(secrets)
    plan._positions, plan._name = pos, name
    return plan, warnings


def problem_line(plan: Plan, path: Path, message: str) -> str:
    """A problem found after loading (``cutover.baseline[0]`` does not verify), as the one
    ``FILE:LINE:COL: path: message`` line the loader itself would have written."""
    pos = plan._positions
    if pos is None:
        return f"{plan._name}:1:1: " + clean(f"{dotted(path)}: {message}", 1000, single_line=True)
    return Problem(path, plan.redact(message)).render(plan._name, pos)


def _anchor_paths(data: dict, base: FsPath) -> None:
    """File paths in sources are taken relative to the plan, not the caller's directory."""
    sources = data.get("sources")
    for source in sources.values() if isinstance(sources, dict) else ():
        ca = source.get("ca_file") if isinstance(source, dict) else None
        if isinstance(ca, str) and ca and not os.path.isabs(os.path.expanduser(ca)):
            source["ca_file"] = str(base / ca)


def _read(fs_path: FsPath, name: str) -> str:
    return read_text(fs_path, name)[1]


def read_text(fs_path: FsPath, name: str, what: str = "plan",
              empty: str = "the file is empty: a plan needs at least a 'cutover' section"
              ) -> tuple[bytes, str]:
    """The file's bytes and its text, read from a regular file only and never more than the cap
    (a scenario file is read by the same rules; ``what`` names the kind of file in messages).

    Every refusal is ``FILE:LINE:COL: reason`` like any other problem of a plan; one about the
    whole file (missing, unreadable, not a regular file, too big) is at 1:1.

    A device (``/dev/zero``, ``/dev/urandom``) would be read forever and a FIFO would block
    forever: both are refused before opening, and again on the opened descriptor (the path may
    change in between). Symlinks are followed; their target must be a regular file.
    """
    try:
        _regular(os.stat(fs_path), name, what)
        fd = os.open(fs_path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0))
        try:
            size = _regular(os.fstat(fd), name, what)
            if size > MAX_BYTES:
                raise _too_big(name, size, what)
            raw = _read_capped(fd)
        finally:
            os.close(fd)
    except FileNotFoundError:
        raise PlanError([f"{name}:1:1: no such file"]) from None
    except PermissionError:
        raise PlanError([f"{name}:1:1: permission denied"]) from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise PlanError([f"{name}:1:1: cannot read: {getattr(exc, 'strerror', None) or exc}"]) from None
    if len(raw) > MAX_BYTES:
        raise _too_big(name, len(raw), what)
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise PlanError([f"{name}:{_where(raw, nul)}: looks like a binary file, not a YAML {what}"])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanError([f"{name}:{_where(raw, exc.start)}: not UTF-8 text (bad byte at offset {exc.start})"]) from None
    if not text.strip():
        raise PlanError([f"{name}:1:1: {empty}"])
    return raw, text.lstrip("\ufeff")


_KINDS = ((stat.S_ISDIR, "is a directory, not a plan file"), (stat.S_ISFIFO, "is a FIFO"),
          (stat.S_ISCHR, "is a character device"), (stat.S_ISBLK, "is a block device"),
          (stat.S_ISSOCK, "is a socket"))


def _regular(st: os.stat_result, name: str, what: str = "plan") -> int:
    if stat.S_ISREG(st.st_mode):
        return st.st_size
    kind = next((words for test, words in _KINDS if test(st.st_mode)), "is not a regular file")
    if "directory" in kind:
        raise PlanError([f"{name}:1:1: {kind.replace('plan', what)}"])
    raise PlanError([f"{name}:1:1: {kind}, not a {what} file: a {what} is a regular YAML file"])


def _read_capped(fd: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while total <= MAX_BYTES:  # one byte past the cap is enough to know it is too big
        chunk = os.read(fd, min(1 << 20, MAX_BYTES + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _too_big(name: str, size: int, what: str = "plan") -> PlanError:
    return PlanError([f"{name}:1:1: file is {size / 1048576:.0f} MB; a {what} may be at most {MAX_BYTES // 1048576} MB"])


def _where(raw: bytes, offset: int) -> str:
    """LINE:COL (1-based, columns in characters) of byte ``offset``."""
    line_start = raw.rfind(b"\n", 0, offset) + 1
    col = len(raw[line_start:offset].decode("utf-8", "replace")) + 1
    line = raw.count(b"\n", 0, offset) + 1
    return f"{line}:{col}"


def _substitute(data: Any, env: Mapping[str, str],
                for_run: bool) -> tuple[Any, set[str], dict[Path, list[str]], list[Problem]]:
    """``${VAR}`` filled in from ``env``; also the values used (secrets, for redaction) and,
    per data path, the variables its value came from (so no error message shows it)."""
    secrets: set[str] = set()
    origins: dict[Path, list[str]] = {}
    problems: list[Problem] = []

    def fill(value: Any, path: Path) -> Any:
        if isinstance(value, dict):
            return {k: fill(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v, (*path, i)) for i, v in enumerate(value)]
        if not isinstance(value, str) or "${" not in value:
            return value

        def one(m: re.Match) -> str:
            var = m.group(1)
            if var not in env:
                problems.append(Problem(path, f"environment variable {var} is not set", warning=not for_run))
                return m.group(0)
            secrets.add(env[var])
            origins.setdefault(path, []).append(var)
            return env[var]

        return _VAR.sub(one, value)

    return fill(data, ()), secrets, origins, problems


def _passed_env(data: Any, env: Mapping[str, str], for_run: bool, secrets: set[str]) -> list[Problem]:
    """Variables a step's ``env`` passes to its commands are secrets like ``${VAR}`` ones: the
    redactor must know their values before a command prints one."""
    problems: list[Problem] = []
    for path, var in env_declarations(data):
        if var in env:
            secrets.add(env[var])
        else:
            problems.append(Problem(path, f"environment variable {var} is not set", warning=not for_run))
    return problems


_TYPE_WORDS = {
    "string_type": "expected text",
    "bool_type": "expected true or false",
    "int_type": "expected a whole number",
    "float_type": "expected a number",
    "list_type": "expected a list",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "datetime_type": "expected a timestamp such as 2026-11-28T22:00:00Z",
}


def _vocabulary() -> list[str]:
    words: set[str] = set()
    for module_name in ("cockpit.config.plan", "cockpit.config.sources", "cockpit.config.runbook", "cockpit.config.recon"):
        module = __import__(module_name, fromlist=["x"])
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, BaseModel) and obj is not BaseModel:
                for fname, finfo in obj.model_fields.items():
                    words.add(finfo.alias or fname)
    return sorted(words)


def _schema_problems(exc: ValidationError, data: Any, origins: dict[Path, list[str]]) -> list[Problem]:
    return schema_problems(exc, data, _vocabulary(), origins=origins)


def schema_problems(exc: ValidationError, data: Any, vocab: list[str], *,
                    origins: dict[Path, list[str]] | None = None, tag: str = "type",
                    tag_words: Callable[[ErrorDetails], str | None] | None = None) -> list[Problem]:
    """pydantic's errors as problems at their YAML place, one per place and message: the one
    wording for plans and for files read by the same rules (rehearsal scenarios). ``tag`` is
    the discriminator field an unknown union tag is pointed at; ``tag_words`` may word a
    union's errors itself (None: the usual words); ``origins`` names the ``${VAR}`` a value
    came from, so the value is never repeated."""
    out: list[Problem] = []
    seen: set[tuple[Path, str]] = set()
    for err in exc.errors(include_url=False):
        path, at_key = _real_path(data, err["loc"], err["type"])
        if err["type"] == "union_tag_invalid":
            path = (*path, tag)
        message = tag_words(err) if tag_words is not None else None
        if message is None:
            hidden = sorted({v for p, names in (origins or {}).items() if p[:len(path)] == path
                             for v in names})
            message = _message(err, path, vocab, hidden)
        if (path, message) in seen:
            continue
        seen.add((path, message))
        out.append(Problem(path, message, at_key=at_key))
    return out


def _real_path(data: Any, loc: tuple, kind: str) -> tuple[Path, bool]:
    path: list[str | int] = []
    cur = data
    at_key = False
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if part == "[key]":
            at_key = True
            continue
        if isinstance(cur, dict) and part in cur or isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            path.append(part)
            cur = cur[part]
        elif last and kind == "missing":
            path.append(part)
            cur = None
        # otherwise: a union tag or validator name pydantic puts in the location; not a place
    if kind == "extra_forbidden":
        at_key = True
    return tuple(path), at_key


# Keys a plan may still carry from an older version of the cockpit: what to write instead.
RENAMED = {
    "second_operator": "'second_operator' is now 'two_person: true' (the second person approves "
                       "from their own cockpit)",
    "journal_mirror": "'journal_mirror' is replaced by 'shared_journal: {source: <a postgres "
                      "source>, table: <name>}' (create the table with: cockpit journal init CONFIG)",
}


def _message(err: ErrorDetails, path: Path, vocab: list[str], hidden: Sequence[str] = ()) -> str:
    """The problem in words; ``hidden`` names the variables the value came from, and then the
    value itself is never put into the message (it may be a secret in the wrong field)."""
    kind = err["type"]
    got = err.get("input")
    if hidden:
        return _hidden_message(err, kind, got, hidden)
    if kind == "extra_forbidden":
        key = str(path[-1]) if path else "?"
        if key in RENAMED:
            return RENAMED[key]
        close = difflib.get_close_matches(key, [w for w in vocab if w != key], n=1, cutoff=0.75)
        return f"unknown key '{key}'" + (f" (did you mean '{close[0]}'?)" if close else "")
    if kind == "missing":
        return f"missing required key '{path[-1]}'" if path else "missing required key"
    if kind in _TYPE_WORDS:
        return f"{_TYPE_WORDS[kind]}, got {_describe(got)}"
    if kind == "union_tag_invalid":
        ctx = err.get("ctx", {})
        return f"unknown type {ctx.get('tag')!r}: expected one of {', '.join(plan_mod_source_types())}"
    if kind == "union_tag_not_found":
        return f"missing 'type': one of {', '.join(plan_mod_source_types())}"
    if kind == "literal_error":
        return f"expected {err.get('ctx', {}).get('expected', 'one of the allowed values')}, got {_describe(got)}"
    if kind == "too_short":
        return "needs at least one entry"
    msg = str(err.get("msg", "invalid value"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    return msg[:1].lower() + msg[1:]


def _hidden_message(err: ErrorDetails, kind: str, got: Any, hidden: Sequence[str]) -> str:
    shown = "the value of " + ", ".join(f"${{{v}}}" for v in hidden) + " (from the environment, not shown)"
    if kind in _TYPE_WORDS:
        return f"{_TYPE_WORDS[kind]}, got {shown}"
    if kind == "literal_error":
        return f"expected {err.get('ctx', {}).get('expected', 'one of the allowed values')}, got {shown}"
    if kind == "union_tag_invalid":
        return f"unknown type, {shown}: expected one of {', '.join(plan_mod_source_types())}"
    msg = str(err.get("msg", "invalid value"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    if isinstance(got, str) and got:
        # Our validators quote the value (repr); the redactor below removes any other trace.
        msg = msg.replace(repr(got), shown).replace(got, shown)
    msg = Redactor([got] if isinstance(got, str) else [])(msg)
    return f"{msg[:1].lower()}{msg[1:]}" if shown in msg else f"{shown} is not valid here: {msg[:1].lower()}{msg[1:]}"


def plan_mod_source_types() -> tuple[str, ...]:
    from cockpit.config.sources import SOURCE_TYPES

    return SOURCE_TYPES


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict,)):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"{shown!r}"
    return f"{value!r}"


def _ordered(problems: list[Problem], pos: Positions) -> list[Problem]:
    def key(p: Problem):
        m = p.mark or pos.find(p.path, key=p.at_key)
        return (m.line, m.col, p.message)

    return sorted(problems, key=key)


__all__ = ["load_plan", "PlanError", "Plan", "plan_mod"]
