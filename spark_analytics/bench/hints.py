"""Side-by-side benchmark of the project's declarative performance settings.

    python -m spark_analytics.bench.hints --data data/generated [--repeat 3]

Each pair runs the same query in one SparkSession, once with and once without the setting,
and prints both timings and their ratio:

- broadcast: purchases joined to merchants with `/*+ broadcast(merchants) */` vs a forced
  sort-merge join (automatic broadcast off), as fct_purchases does.
- cache: the validated transactions read by two downstream queries, cached vs recomputed, as
  int_transactions_validated feeds both the clean path and the quarantine.
- repartition: a write partitioned by month with `/*+ repartition(purchase_month) */` vs
  without (time and number of files written), as fct_purchases is written.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from spark_analytics import progress
from spark_analytics.session import build_session

TRANSACTIONS_DDL = (
    "transaction_id string, customer_id string, merchant_id string, purchase_amount string, "
    "event_time string"
)


def register_views(spark: SparkSession, data: Path) -> None:
    spark.read.csv(
        str(data / "transactions" / "csv"), header=True, schema=TRANSACTIONS_DDL
    ).createOrReplaceTempView("raw_transactions")
    spark.read.parquet(str(data / "merchants")).createOrReplaceTempView("merchants")
    spark.sql(
        """
        select
            transaction_id, customer_id, merchant_id,
            try_cast(purchase_amount as decimal(18, 2)) as purchase_amount,
            try_cast(event_time as timestamp) as event_time
        from raw_transactions
        """
    ).createOrReplaceTempView("purchases")


def timed(action: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``action`` after one warm-up run."""
    action()
    runs = []
    for _ in progress.track(range(repeat), desc="benchmark", unit="runs"):
        started = time.perf_counter()
        action()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def join_query(spark: SparkSession, hint: str) -> DataFrame:
    return spark.sql(
        f"""
        select {hint} merchants.category_code, sum(purchases.purchase_amount) as total_sales
        from purchases
        inner join merchants on purchases.merchant_id = merchants.merchant_id
        group by merchants.category_code
        """
    )


def bench_broadcast(spark: SparkSession, repeat: int) -> tuple[float, float]:
    spark.conf.set("spark.sql.autoBroadcastJoinThreshold", "-1")
    with_hint = timed(lambda: join_query(spark, "/*+ broadcast(merchants) */").collect(), repeat)
    without = timed(lambda: join_query(spark, "/*+ merge(merchants) */").collect(), repeat)
    spark.conf.unset("spark.sql.autoBroadcastJoinThreshold")
    return with_hint, without


def validated(spark: SparkSession) -> DataFrame:
    return spark.sql(
        """
        select *, row_number() over (partition by transaction_id order by event_time) as n
        from purchases
        """
    )


def two_readers(df: DataFrame) -> None:
    df.where("n = 1").count()
    df.where("n > 1").count()


def bench_cache(spark: SparkSession, repeat: int) -> tuple[float, float]:
    uncached = timed(lambda: two_readers(validated(spark)), repeat)

    def cached_run() -> None:
        df = validated(spark).cache()
        two_readers(df)
        df.unpersist(blocking=True)

    return timed(cached_run, repeat), uncached


def bench_repartition(spark: SparkSession, repeat: int) -> tuple[float, float, int, int]:
    out = Path(tempfile.mkdtemp(prefix="bench-repartition-"))
    query = """
        select {hint} *, date_format(event_time, 'yyyy-MM') as purchase_month from purchases
    """

    def write(hint: str, name: str) -> None:
        spark.sql(query.format(hint=hint)).write.mode("overwrite").partitionBy(
            "purchase_month"
        ).parquet(str(out / name))

    with_hint = timed(lambda: write("/*+ repartition(purchase_month) */", "hinted"), repeat)
    without = timed(lambda: write("", "plain"), repeat)
    files = [len(list((out / name).rglob("*.parquet"))) for name in ("hinted", "plain")]
    return with_hint, without, files[0], files[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", default=os.path.join(os.environ.get("DATA_DIR", "data"), "generated")
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    spark = build_session("bench-performance", hive=False)
    register_views(spark, Path(args.data))
    rows = spark.table("purchases").count()
    print(f"benchmark on {rows:,} transactions, median of {args.repeat} runs after a warm-up")
    print(f"{'setting':<14}{'with (s)':>10}{'without (s)':>13}{'speed-up':>10}")
    for name, (with_s, without_s) in (
        ("broadcast", bench_broadcast(spark, args.repeat)),
        ("cache", bench_cache(spark, args.repeat)),
    ):
        print(f"{name:<14}{with_s:>10.2f}{without_s:>13.2f}{without_s / with_s:>9.2f}x")
    with_s, without_s, hinted_files, plain_files = bench_repartition(spark, args.repeat)
    print(
        f"{'repartition':<14}{with_s:>10.2f}{without_s:>13.2f}{without_s / with_s:>9.2f}x"
        f"   files written: {hinted_files} with, {plain_files} without"
    )
    spark.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
