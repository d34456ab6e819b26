"""``lab.json``: what a lab folder holds and what runs (pids, ports), and the service's state.

Two files, both rewritten atomically (temp file, fsync, rename) so a reader never sees half:

- ``lab.json``: the lab itself (seed, scale, clusters, service, faults in force). Written by
  ``lab up``/``down``/``fault``; ``lab status`` and ``down`` read it to find what they started.
- ``service.json``: what the HTTP service answers (tickets, metrics, latency), re-read by the
  service on every request, so a fault shows at once without talking to the service.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

LAB_FILE = "lab.json"
SERVICE_FILE = "service.json"
PLAN_FILE = "lab-plan.yaml"
FORMAT = 1


class LabError(Exception):
    """A lab operation cannot be done; the message is the one line the user sees."""


@dataclass
class Cluster:
    name: str  # "legacy" or "cloud"
    port: int
    datadir: str
    pid: int | None = None


@dataclass
class Service:
    port: int | None = None
    pid: int | None = None


@dataclass
class Lab:
    dir: str
    seed: int
    patients: int
    run_as: str
    legacy: Cluster
    cloud: Cluster
    service: Service = field(default_factory=Service)
    # What each fault changed, so ``clear`` can put it back: keys only, never values.
    faults: dict[str, Any] = field(default_factory=dict)
    format: int = FORMAT

    @property
    def path(self) -> Path:
        return Path(self.dir)

    @property
    def plan_path(self) -> Path:
        return self.path / PLAN_FILE

    def clusters(self) -> tuple[Cluster, Cluster]:
        return self.legacy, self.cloud

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Lab:
        """From ``lab.json``, checked field by field: a damaged file is a LabError, and a pid
        or port of the wrong type never reaches the code that signals processes."""
        try:
            faults = doc.get("faults") or {}
            if not isinstance(faults, dict):
                raise TypeError("faults")
            return cls(dir=_text(doc["dir"]), seed=_int(doc["seed"]), patients=_int(doc["patients"]),
                       run_as=_text(doc["run_as"]), legacy=_cluster(doc["legacy"]),
                       cloud=_cluster(doc["cloud"]), service=_service(doc.get("service") or {}),
                       faults=faults, format=_int(doc.get("format", FORMAT)))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise LabError(f"lab.json is not a lab description ({type(exc).__name__})") from None


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("not a whole number")
    return value


def _opt_int(value: Any) -> int | None:
    """A pid or port: positive (a pid of 0 or below would signal a whole process group)."""
    if value is None:
        return None
    if _int(value) <= 0:
        raise ValueError("not positive")
    return int(value)


def _text(value: Any) -> str:
    if not isinstance(value, str) or "\0" in value:
        raise TypeError("not text")
    return value


def _cluster(doc: Any) -> Cluster:
    return Cluster(name=_text(doc["name"]), port=_opt_int(doc["port"]) or 0, datadir=_text(doc["datadir"]),
                   pid=_opt_int(doc.get("pid")))


def _service(doc: Any) -> Service:
    return Service(port=_opt_int(doc.get("port")), pid=_opt_int(doc.get("pid")))


def write_json(path: Path, doc: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=2, sort_keys=True)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def load(lab_dir: Path) -> Lab | None:
    """The lab described in ``lab_dir``, or None when the folder holds no lab."""
    path = lab_dir / LAB_FILE
    if not path.exists():
        return None
    try:
        doc = read_json(path)
    except (OSError, ValueError) as exc:
        raise LabError(f"cannot read {path}: {type(exc).__name__}") from None
    if not isinstance(doc, dict):
        raise LabError(f"{path} is not a lab description")
    return Lab.from_json(doc)


def save(lab: Lab) -> None:
    write_json(lab.path / LAB_FILE, lab.to_json())
