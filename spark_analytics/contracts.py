"""The dbt project's vars, read by the Python side: one place for each rule is dbt_project.yml.

Owns nothing but the reading. The rejection-reason contract is the var ``rejection_reasons``:
per source entity, the checks in the order they are applied (a rejected row carries the first
failing one), each with its ``stage`` (``row``: one line alone, in staging and in the stream
ingest; ``reference``: against the accepted customers and merchants; ``dedup``: against the
other lines with the same id). SQL renders it through ``macros/rejection_reasons.sql``; Python
(``spark_analytics.streaming.ingest``) through :func:`rejection_reasons`;
``tests/python/test_contracts.py`` checks that every reader agrees. See docs/contracts.md.

Thresholds (``high_value_threshold``, ...) are dbt vars too: :func:`dbt_var` gives their
project defaults to Python code that runs outside dbt (a ``--vars`` override on a dbt command
reaches only dbt; Python functions called from dbt take the value as an argument).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import yaml

STAGES = ("row", "reference", "dedup")


def project_file() -> Path:
    """dbt_project.yml: in $DBT_PROJECT_DIR when set (scripts/in_env.sh), else the checkout."""
    candidates = [Path(__file__).resolve().parents[1]]
    if os.environ.get("DBT_PROJECT_DIR"):
        candidates.insert(0, Path(os.environ["DBT_PROJECT_DIR"]))
    for directory in candidates:
        if (directory / "dbt_project.yml").is_file():
            return directory / "dbt_project.yml"
    raise FileNotFoundError(f"dbt_project.yml not found in {[str(c) for c in candidates]}")


@cache
def _project_vars(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8")).get("vars") or {}


def dbt_var(name: str) -> Any:
    """A var's default value from dbt_project.yml (KeyError when the project does not set it)."""
    project_vars = _project_vars(project_file())
    if name not in project_vars:
        raise KeyError(f"var {name!r} is not set in {project_file()}")
    return project_vars[name]


def rejection_reasons(entity: str, stages: Iterable[str] | str | None = None) -> tuple[str, ...]:
    """The reasons of ``entity`` in contract order, optionally only those of some stages."""
    contract = dbt_var("rejection_reasons")
    if entity not in contract:
        raise KeyError(f"no entity {entity!r} in var rejection_reasons; entities: {list(contract)}")
    wanted = None if stages is None else ({stages} if isinstance(stages, str) else set(stages))
    if wanted is not None and not wanted <= set(STAGES):
        raise ValueError(f"unknown stage(s) {sorted(wanted - set(STAGES))}; stages: {STAGES}")
    return tuple(
        check["reason"] for check in contract[entity] if wanted is None or check["stage"] in wanted
    )
