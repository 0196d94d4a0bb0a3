"""The state file (`cluster.json`): which processes `up` started, so `down` can stop them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from spark_analytics.cluster.config import Settings


@dataclass
class Component:
    name: str
    pid: int
    log: str
    ports: list[int]
    command: list[str]


def read_state(settings: Settings) -> list[Component]:
    if not settings.state_file.exists():
        return []
    raw = json.loads(settings.state_file.read_text())
    return [Component(**item) for item in raw["components"]]


def write_state(settings: Settings, components: list[Component]) -> None:
    payload = {
        "master_url": settings.master_url,
        "jdbc_url": settings.jdbc_url,
        "connect_url": settings.connect_url,
        "components": [asdict(c) for c in components],
    }
    tmp = settings.state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2))
    tmp.replace(settings.state_file)
