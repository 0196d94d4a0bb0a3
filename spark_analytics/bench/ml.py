"""Times the training on a synthetic feature table (``synthetic.random_features``).

Usage::

    SPARK_MASTER=local[2] SPARK_DRIVER_MEMORY=4g \\
        python -m spark_analytics.bench.ml --customers 1000000 [--out /tmp/ml-bench]

Prints one JSON line: customers per snapshot, seconds to build/cache the features, seconds for
``train_and_evaluate`` (fingerprints, fit, evaluation, save) and the test AUC. Runs the project's
local SparkSession (``spark_analytics.session``; a command-line tool, not a dbt model) and saves
the model under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from spark_analytics import progress
from spark_analytics.ml.synthetic import random_features
from spark_analytics.ml.training import train_and_evaluate
from spark_analytics.session import build_session


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--out", default="/tmp/ml-bench")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    spark = build_session("ml-benchmark", hive=False)
    try:
        steps = progress.bar(total=2, desc="ml benchmark", unit="steps")
        start = time.perf_counter()
        features, labels = random_features(spark, args.customers, partitions=args.partitions)
        features = features.persist()
        labels = labels.persist()
        rows = features.count() + labels.count()
        prepared = time.perf_counter()
        steps.update(1)
        result = train_and_evaluate(features, labels, root=str(out / "models"))
        trained = time.perf_counter()
        steps.update(1)
        steps.close()
        print(
            json.dumps(
                {
                    "customers_per_snapshot": args.customers,
                    "rows_cached": rows,
                    "driver_memory": spark.conf.get("spark.driver.memory"),
                    "master": spark.conf.get("spark.master"),
                    "features_seconds": round(prepared - start, 1),
                    "train_and_evaluate_seconds": round(trained - prepared, 1),
                    "auc_roc": round(result.metrics["auc_roc"], 4),
                    "rows_trained": result.metrics["rows_trained"],
                    "model_path": result.model_path,
                }
            )
        )
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
