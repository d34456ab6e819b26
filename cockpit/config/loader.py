"""Read a plan file: limits, YAML, ``${VAR}`` substitution, schema, cross-checks."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel, ValidationError

from cockpit.config import plan as plan_mod
from cockpit.config.checks import cross_check
from cockpit.config.plan import Plan
from cockpit.config.problems import PlanError, Problem
from cockpit.config.runbook import env_declarations
from cockpit.config.secrets import check_secrets
from cockpit.config.yamlpos import Path, Positions, YamlProblem, load

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
        where = f"{exc.mark.line}:{exc.mark.col}: " if exc.mark else ""
        raise PlanError([f"{name}:{where}{exc.message}"]) from None
    problems: list[Problem] = [
        Problem(d.path, f"duplicate key '{d.path[-1]}' (first at line {d.first.line})", mark=d.mark)
        for d in dups
    ]
    if not isinstance(data, dict):
        raise PlanError([f"{name}:1:1: (top): a plan is a mapping with 'cutover', 'operators', 'runbook', ... at the top"])
    problems += check_secrets(data)
    data, secrets, env_problems = _substitute(data, env, for_run)
    env_problems += _passed_env(data, env, for_run, secrets)
    _anchor_paths(data, fs_path.resolve().parent)
    problems += env_problems
    plan = None
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        problems += _schema_problems(exc, data)
    problems += cross_check(data)
    errors = [p.render(name, pos) for p in _ordered(problems, pos) if not p.warning]
    warnings = [p.render(name, pos) for p in _ordered(problems, pos) if p.warning]
    if errors or plan is None:
        raise PlanError(errors or [f"{name}:1:1: (top): invalid plan"], warnings)
    plan._path = fs_path.resolve()
    plan._secrets = frozenset(secrets)
    return plan, warnings


def _anchor_paths(data: dict, base: FsPath) -> None:
    """File paths in sources are taken relative to the plan, not the caller's directory."""
    sources = data.get("sources")
    for source in sources.values() if isinstance(sources, dict) else ():
        ca = source.get("ca_file") if isinstance(source, dict) else None
        if isinstance(ca, str) and ca and not os.path.isabs(os.path.expanduser(ca)):
            source["ca_file"] = str(base / ca)


def _read(fs_path: FsPath, name: str) -> str:
    try:
        if fs_path.is_dir():
            raise PlanError([f"{name}: is a directory, not a plan file"])
        size = fs_path.stat().st_size
        if size > MAX_BYTES:
            raise PlanError([f"{name}: file is {size / 1048576:.0f} MB; a plan may be at most {MAX_BYTES // 1048576} MB"])
        raw = fs_path.read_bytes()
    except FileNotFoundError:
        raise PlanError([f"{name}: no such file"]) from None
    except PermissionError:
        raise PlanError([f"{name}: permission denied"]) from None
    except OSError as exc:
        raise PlanError([f"{name}: cannot read: {exc.strerror or exc}"]) from None
    if b"\x00" in raw:
        raise PlanError([f"{name}: looks like a binary file, not a YAML plan"])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanError([f"{name}: not UTF-8 text (bad byte at offset {exc.start})"]) from None
    if not text.strip():
        raise PlanError([f"{name}:1:1: the file is empty: a plan needs at least a 'cutover' section"])
    return text.lstrip("\ufeff")


def _substitute(data: Any, env: Mapping[str, str], for_run: bool) -> tuple[Any, set[str], list[Problem]]:
    secrets: set[str] = set()
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
            return env[var]

        return _VAR.sub(one, value)

    return fill(data, ()), secrets, problems


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


def _schema_problems(exc: ValidationError, data: Any) -> list[Problem]:
    vocab = _vocabulary()
    out: list[Problem] = []
    seen: set[tuple[Path, str]] = set()
    for err in exc.errors(include_url=False):
        path, at_key = _real_path(data, err["loc"], err["type"])
        if err["type"] == "union_tag_invalid":
            path = (*path, "type")
        message = _message(err, path, vocab)
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


def _message(err: dict, path: Path, vocab: list[str]) -> str:
    kind = err["type"]
    got = err.get("input")
    if kind == "extra_forbidden":
        key = str(path[-1]) if path else "?"
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
