"""Model quality gate: a trained version is *promoted* (used by scoring) only if its metric
reaches a threshold.

The metric and threshold come from dbt vars (``ml_gate_metric``, ``ml_gate_threshold``; their
defaults are in dbt_project.yml) passed to the Python models through their config. Higher is
better for every metric except ``log_loss``, where the value must be at most the threshold.
Messages go to dbt's log when running inside dbt, else to the standard ``logging`` module.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from spark_analytics.contracts import dbt_var

GATE_METRICS = ("auc_roc", "auc_pr", "accuracy", "log_loss")
LOWER_IS_BETTER = frozenset({"log_loss"})


def _default_metric() -> str:
    return str(dbt_var("ml_gate_metric"))


def _default_threshold() -> float:
    return float(dbt_var("ml_gate_threshold"))


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() in ("", "None", "none"))


def as_bool(value: Any) -> bool:
    """A config value rendered from a var ("true", "False", True, 1...) as a bool."""
    if isinstance(value, bool):
        return value
    if _blank(value):
        return False
    return str(value).strip().lower() in ("true", "1", "yes", "on")


@dataclass(frozen=True)
class GateConfig:
    metric: str = field(default_factory=_default_metric)
    threshold: float = field(default_factory=_default_threshold)

    def __post_init__(self) -> None:
        if self.metric not in GATE_METRICS:
            raise ValueError(
                f"ml_gate_metric '{self.metric}' is not one of {', '.join(GATE_METRICS)}"
            )

    @classmethod
    def from_config(cls, metric: Any = None, threshold: Any = None) -> GateConfig:
        """From (possibly string-rendered, possibly empty) config values; blanks -> the
        project's defaults."""
        metric = _default_metric() if _blank(metric) else str(metric).strip()
        try:
            value = _default_threshold() if _blank(threshold) else float(threshold)
        except ValueError:
            raise ValueError(f"ml_gate_threshold '{threshold}' is not a number") from None
        return cls(metric, value)

    @property
    def comparison(self) -> str:
        return "<=" if self.metric in LOWER_IS_BETTER else ">="

    def passes(self, value: float | None) -> bool:
        if value is None or value != value:  # None or NaN never passes
            return False
        if self.metric in LOWER_IS_BETTER:
            return value <= self.threshold
        return value >= self.threshold

    def describe(self, value: float | None) -> str:
        shown = "n/a" if value is None else f"{value:.4f}"
        return f"{self.metric} = {shown} (gate: {self.metric} {self.comparison} {self.threshold})"


def gate_logger() -> Any:
    """dbt's adapter logger inside dbt (shown on the console), else ``logging``."""
    try:
        from dbt.adapters.events.logging import AdapterLogger

        return AdapterLogger("ml_gate")
    except ImportError:  # plain pyspark (tests, benchmarks)
        return logging.getLogger("spark_analytics.ml.gate")
