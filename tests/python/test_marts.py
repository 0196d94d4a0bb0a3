"""The marts built by `dbt build` against independent plain-PySpark computations on the same files.

Two datasets from one seed, one without bad rows, one with bad rows injected into every format,
are built into separate schemas of one isolated project state. Valid rows are identical in both,
so the marts must be too.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType
from pyspark.testing import assertDataFrameEqual

from spark_analytics.bench.path import DBT_SELECTION as MARTS_PATH
from tests.python.dbt_project import MARTS, QUARANTINE, ROWS, SEED, DbtProject

BAD_ROWS = 70
# Re-runs on other formats only need seeds and models; the tests ran on the first build.
SEEDS_AND_MODELS_ONLY = ("--resource-type", "seed", "--resource-type", "model")

TRANSACTION_SCHEMA = StructType(
    [
        StructField(name, StringType())
        for name in (
            "transaction_id",
            "customer_id",
            "merchant_id",
            "purchase_amount",
            "event_time",
        )
    ]
)


@pytest.fixture(scope="session")
def clean_project_from_parquet(clean_project: DbtProject) -> DbtProject:
    """The same project and files, transactions read from Parquet into separate schemas."""
    project = DbtProject(clean_project.workdir, extra_env=(("DBT_SCHEMA", "from_parquet"),))
    project.dbt(
        "build",
        *SEEDS_AND_MODELS_ONLY,
        dbt_vars={"transactions_format": "parquet", "raw_schema": "raw_parquet"},
    )
    return project


@pytest.fixture(scope="session")
def clean_project_with_inferred_schema(clean_project: DbtProject) -> DbtProject:
    """The same CSV files registered with Spark's schema inference instead of declared columns."""
    project = DbtProject(clean_project.workdir, extra_env=(("DBT_SCHEMA", "inferred"),))
    project.dbt(
        "build",
        *SEEDS_AND_MODELS_ONLY,
        dbt_vars={"transactions_infer_schema": True, "raw_schema": "raw_inferred"},
    )
    return project


@pytest.fixture(scope="session")
def bad_project(clean_project: DbtProject) -> DbtProject:
    """The same dataset with bad rows, built into schemas of its own (bad_*) in the clean
    project's metastore: its warm runner builds it (no second JVM and cold build)."""
    project = clean_project.in_schema("bad", data_folder="bad_data")
    project.generate("--rows", str(ROWS), "--seed", str(SEED), "--bad-rows", str(BAD_ROWS))
    # The marts path with its data tests: injected bad rows must be quarantined, not fail the
    # build. The rest (ML, snapshots, events, the UDF report) reads the marts, which
    # test_bad_rows_do_not_change_the_marts proves equal to the clean build's, or models the bad
    # rows (transactions only) do not reach; the clean project builds and tests all of it.
    # Its own raw schema: the clean project's raw.* tables keep pointing at the clean files.
    project.dbt("build", "-s", *MARTS_PATH, dbt_vars={"raw_schema": "raw_bad"})
    return project


@pytest.fixture(scope="session")
def bad_project_from_json(bad_project: DbtProject) -> DbtProject:
    project = bad_project.in_schema("bad_from_json")
    project.dbt(
        "build",
        *SEEDS_AND_MODELS_ONLY,
        dbt_vars={"transactions_format": "json", "raw_schema": "raw_bad_json"},
    )
    return project


def manifest(project: DbtProject) -> dict:
    return json.loads((project.generated_dir / "manifest.json").read_text())


# --- the seed's plain PySpark logic, written independently of the SQL models -----------------


def purchase_segment(amount: Column) -> Column:
    return (
        F.when(amount > 1000, "High Value")
        .when(amount > 500, "Medium Value")
        .otherwise("Low Value")
    )


def read_raw_transactions(spark: SparkSession, project: DbtProject) -> DataFrame:
    path = project.generated_dir / "transactions" / "csv"
    return spark.read.csv(str(path), header=True, schema=TRANSACTION_SCHEMA).select(
        "transaction_id",
        "customer_id",
        "merchant_id",
        F.col("purchase_amount").cast("decimal(18,2)").alias("purchase_amount"),
        F.to_timestamp("event_time", "yyyy-MM-dd HH:mm:ss").alias("event_time"),
    )


def seed_sales_by_segment(transactions: DataFrame) -> DataFrame:
    return (
        transactions.select("customer_id", "purchase_amount")
        .withColumn("purchase_segment", purchase_segment(F.col("purchase_amount")))
        .groupBy("purchase_segment")
        .agg(
            F.count("*").alias("transaction_count"),
            F.countDistinct("customer_id").alias("customer_count"),
            F.avg("purchase_amount").alias("avg_purchase"),
            F.sum("purchase_amount").alias("total_sales"),
        )
    )


def customer_rfm(transactions: DataFrame) -> DataFrame:
    as_of = transactions.agg(F.max(F.to_date("event_time")).alias("as_of_date"))
    return (
        transactions.groupBy("customer_id")
        .agg(
            F.count("*").alias("purchase_count"),
            F.sum("purchase_amount").alias("lifetime_spend"),
            F.max("event_time").alias("last_purchase_at"),
        )
        .crossJoin(as_of)
        .select(
            "customer_id",
            "purchase_count",
            "lifetime_spend",
            F.datediff("as_of_date", F.to_date("last_purchase_at")).alias("recency_days"),
        )
    )


def merchant_sales(transactions: DataFrame) -> DataFrame:
    return transactions.groupBy("merchant_id").agg(
        F.count("*").alias("transaction_count"), F.sum("purchase_amount").alias("total_sales")
    )


# --- tests -----------------------------------------------------------------------------------

SALES_COLUMNS = [
    "purchase_segment",
    "transaction_count",
    "customer_count",
    "avg_purchase",
    "total_sales",
]


def test_sales_by_segment_equals_seed_pyspark(spark: SparkSession, clean_project: DbtProject):
    expected = seed_sales_by_segment(read_raw_transactions(spark, clean_project))
    actual = clean_project.read_table(spark, MARTS, "rpt_sales_by_segment").select(*SALES_COLUMNS)
    assert actual.count() == 3
    assertDataFrameEqual(actual, expected, checkRowOrder=False)


def test_customer_mart_equals_pyspark(spark: SparkSession, clean_project: DbtProject):
    expected = customer_rfm(read_raw_transactions(spark, clean_project))
    actual = (
        clean_project.read_table(spark, MARTS, "dim_customers")
        .where("purchase_count > 0")
        .select("customer_id", "purchase_count", "lifetime_spend", "recency_days")
    )
    assertDataFrameEqual(actual, expected, checkRowOrder=False)
    customers = clean_project.read_table(spark, MARTS, "dim_customers")
    assert customers.count() == manifest(clean_project)["counts"]["customers"]


def test_merchant_mart_equals_pyspark(spark: SparkSession, clean_project: DbtProject):
    expected = merchant_sales(read_raw_transactions(spark, clean_project))
    actual = (
        clean_project.read_table(spark, MARTS, "dim_merchants")
        .where("transaction_count > 0")
        .select("merchant_id", "transaction_count", "total_sales")
    )
    assertDataFrameEqual(actual, expected, checkRowOrder=False)
    merchants = clean_project.read_table(spark, MARTS, "dim_merchants")
    assert merchants.where("category_name is null").count() == 0


@pytest.mark.slow  # a second full build; --runslow (every build still reads merchants from Parquet)
def test_parquet_source_gives_the_same_marts(
    spark: SparkSession, clean_project: DbtProject, clean_project_from_parquet: DbtProject
):
    for table in ("rpt_sales_by_segment", "dim_customers", "dim_merchants"):
        assertDataFrameEqual(
            clean_project_from_parquet.read_table(
                spark, clean_project_from_parquet.schema("marts"), table
            ),
            clean_project.read_table(spark, MARTS, table),
            checkRowOrder=False,
        )


@pytest.mark.slow  # a second full build; --runslow
def test_inferred_csv_schema_gives_the_same_marts(
    spark: SparkSession, clean_project: DbtProject, clean_project_with_inferred_schema: DbtProject
):
    for table in ("rpt_sales_by_segment", "fct_purchases"):
        assertDataFrameEqual(
            clean_project_with_inferred_schema.read_table(
                spark, clean_project_with_inferred_schema.schema("marts"), table
            ),
            clean_project.read_table(spark, MARTS, table),
            checkRowOrder=False,
        )


def test_clean_data_quarantines_nothing(spark: SparkSession, clean_project: DbtProject):
    for table in ("quarantine_transactions", "quarantine_customers", "quarantine_merchants"):
        assert clean_project.read_table(spark, QUARANTINE, table).count() == 0


def expected_quarantine(project: DbtProject, file_format: str) -> Counter:
    rows = manifest(project)["bad_rows"]["rows"]
    return Counter(
        (row["transaction_id"], row["reason"])
        for row in rows
        if row["format"] == file_format and row["reason"] != "malformed_row"
    )


def assert_quarantine_matches_manifest(
    spark: SparkSession, project: DbtProject, file_format: str
) -> None:
    quarantined = project.read_table(spark, project.schema("quarantine"), "quarantine_transactions")
    reasons = Counter(r.rejection_reason for r in quarantined.select("rejection_reason").collect())
    injected = manifest(project)["bad_rows"]["counts"][file_format]
    assert reasons == Counter({k: v for k, v in injected.items() if v}), (reasons, injected)
    # Apart from unparseable lines, every quarantined row is the injected row with its reason.
    identified = Counter(
        (r.transaction_id, r.rejection_reason)
        for r in quarantined.where("rejection_reason != 'malformed_row'").collect()
    )
    assert identified == expected_quarantine(project, file_format)
    assert (
        quarantined.where("rejection_reason = 'malformed_row' and raw_record is null").count() == 0
    )


def test_bad_csv_rows_are_quarantined_with_their_reason(
    spark: SparkSession, bad_project: DbtProject
):
    assert_quarantine_matches_manifest(spark, bad_project, "csv")


@pytest.mark.slow  # a second full build; --runslow
def test_bad_json_rows_are_quarantined_with_their_reason(
    spark: SparkSession, bad_project_from_json: DbtProject
):
    assert_quarantine_matches_manifest(spark, bad_project_from_json, "json")


def count_lines(files: list[Path], header: bool) -> int:
    return sum(sum(1 for _ in f.open(encoding="utf-8")) - int(header) for f in files)


def test_nothing_is_lost(spark: SparkSession, bad_project: DbtProject):
    csv_files = sorted((bad_project.generated_dir / "transactions" / "csv").glob("*.csv"))
    landed = count_lines(csv_files, header=True)
    accepted = bad_project.read_table(spark, bad_project.schema("marts"), "fct_purchases").count()
    quarantined = bad_project.read_table(
        spark, bad_project.schema("quarantine"), "quarantine_transactions"
    ).count()
    assert landed == ROWS + BAD_ROWS
    assert (accepted, quarantined) == (ROWS, BAD_ROWS)


def test_bad_rows_do_not_change_the_marts(
    spark: SparkSession, clean_project: DbtProject, bad_project: DbtProject
):
    for table in ("rpt_sales_by_segment", "dim_customers", "dim_merchants", "fct_purchases"):
        assertDataFrameEqual(
            bad_project.read_table(spark, bad_project.schema("marts"), table),
            clean_project.read_table(spark, MARTS, table),
            checkRowOrder=False,
        )


def test_udf_mart_equals_the_plain_python_functions(spark: SparkSession, clean_project: DbtProject):
    """rpt_merchant_risk_profiles calls the Python UDFs from SQL; recompute it in plain Python."""
    from python_udfs.merchant import normalize_merchant_name
    from python_udfs.risk import transaction_risk_score

    purchases = clean_project.read_table(spark, MARTS, "fct_purchases").toPandas()
    customers = clean_project.read_table(spark, MARTS, "dim_customers").toPandas()
    merchants = clean_project.read_table(spark, MARTS, "dim_merchants").toPandas()
    joined = purchases.merge(customers[["customer_id", "country_code"]], on="customer_id").merge(
        merchants[["merchant_id", "country_code"]], on="merchant_id", suffixes=("_c", "_m")
    )
    joined["risk_score"] = [
        transaction_risk_score(float(amount), when.hour, c != m)
        for amount, when, c, m in zip(
            joined.purchase_amount,
            joined.event_time,
            joined.country_code_c,
            joined.country_code_m,
            strict=True,
        )
    ]
    expected = joined.groupby("merchant_id").risk_score.mean()

    actual = clean_project.read_table(spark, MARTS, "rpt_merchant_risk_profiles").toPandas()
    actual = actual.set_index("merchant_id")
    assert set(actual.index) == set(expected.index)
    assert (actual.avg_risk_score - expected.loc[actual.index]).abs().max() < 1e-9
    assert all(
        normalized == normalize_merchant_name(name)
        for name, normalized in zip(
            actual.merchant_name, actual.normalized_merchant_name, strict=True
        )
    )
