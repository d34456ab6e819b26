"""Secrets must come from the environment (``${VAR}``), never be written into the plan.

A plan is copied into tickets, chat and evidence packs; an inline password in it leaks.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from cockpit.config.problems import Problem
from cockpit.config.yamlpos import Path

_ENV_ONLY = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")
_SECRET_KEYS = {"password", "passwd", "token", "secret", "api_key", "apikey", "client_secret", "private_key"}
_SECRET_HEADER = re.compile(r"(authorization|cookie|token|secret|api[-_]?key|password)", re.I)
_DSN_PASSWORD = re.compile(r"(?:^|\s)(?:ssl)?password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", re.I)


def _from_env(value: str) -> bool:
    return "${" in value


def check_secrets(data: Any) -> list[Problem]:
    problems: list[Problem] = []
    _walk(data, (), problems)
    return problems


def _walk(node: Any, path: Path, problems: list[Problem]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            child = (*path, key)
            if isinstance(key, str) and key.lower() in _SECRET_KEYS and isinstance(value, str):
                if not _ENV_ONLY.fullmatch(value.strip()):
                    problems.append(Problem(child, f"secret written inline: put it in an environment variable and write ${{{_env_name(path, key)}}}"))
                continue
            if key == "dsn" and isinstance(value, str):
                problems.extend(_dsn(child, value))
            elif key == "url" and isinstance(value, str):
                problems.extend(_url(child, value))
            elif key == "headers" and isinstance(value, dict):
                for hname, hvalue in value.items():
                    if (isinstance(hname, str) and isinstance(hvalue, str)
                            and _SECRET_HEADER.search(hname) and not _from_env(hvalue)):
                        problems.append(Problem((*child, hname), f"secret header written inline: use an environment variable, e.g. 'Bearer ${{{_env_name(path, hname)}}}'"))
            _walk(value, child, problems)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            _walk(item, (*path, i), problems)


def _dsn(path: Path, value: str) -> list[Problem]:
    if "://" in value:
        return _url(path, value)
    m = _DSN_PASSWORD.search(value)
    if m and not _from_env(m.group(1)):
        return [Problem(path, f"password written inline in the DSN: write password=${{{_env_name(path[:-1], 'password')}}} or use PGPASSFILE")]
    return []


def _url(path: Path, value: str) -> list[Problem]:
    try:
        parts = urlsplit(value)
        password = parts.password
    except ValueError:
        return []
    if password and not _from_env(password):
        return [Problem(path, f"password written inline in the URL: use ${{{_env_name(path[:-1], 'password')}}}")]
    return []


def _env_name(path: Path, key: str) -> str:
    parts = [str(p) for p in path if isinstance(p, str) and p not in ("sources", "headers")]
    name = "_".join([*parts[-1:], key])
    return re.sub(r"[^A-Za-z0-9]+", "_", name).upper()
