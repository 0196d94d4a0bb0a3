"""The class-data sharing (CDS) archive that shortens every Spark driver's start.

A Hive-enabled driver loads some 20,000 classes before its first query; about half of its
start-up (15 s on 2 cores) goes there. Java 17 can map them from an archive instead
(AppCDS, ``-XX:SharedArchiveFile``). ``scripts/setup.sh`` builds the archive once by running
a small workload shaped like the project's (Hive metastore, CSV/JSON/Parquet, joins, windows,
a Python UDF, an MLlib fit) in a driver started with ``-XX:ArchiveClassesAtExit``;
``scripts/in_env.sh`` then gives every PySpark driver it starts (dbt's session, the jobs, the
tests) ``-XX:SharedArchiveFile`` through ``spark.driver.defaultJavaOptions``.

CDS maps the archive only when the driver's class path is the one it was built with and its
directories are empty, so ``in_env.sh`` points ``SPARK_CONF_DIR`` at an empty folder and names
log4j's file with ``-Dlog4j2.configurationFile``. The JVM checks the archive against its own
version and class path and, if they differ, starts without it (silently: the in_env.sh flags
keep the console clean), so a stale archive costs time, never correctness. The archive is
rebuilt when its stamp (Java version, pyspark version, class path) changes.

    scripts/in_env.sh python -m spark_analytics.jvm_archive          # build if stale
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ARCHIVE_ENV = "SPARK_CDS_ARCHIVE"
_WORKLOAD_FLAG = "--workload"


def _spark_jars() -> list[str]:
    import pyspark

    return sorted(p.name for p in (Path(pyspark.__file__).parent / "jars").glob("*.jar"))


def stamp(java_home: str, conf_dir: str) -> str:
    """What the archive depends on: the JVM build, pyspark and the driver's class path."""
    import pyspark

    java = subprocess.run(
        [f"{java_home}/bin/java", "-version"], capture_output=True, text=True, check=True
    ).stderr
    parts = [java, pyspark.__version__, conf_dir, *_spark_jars()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _workload(state: Path) -> None:
    """Touch the classes the project's drivers use, so they land in the archive."""
    from pyspark import SparkContext
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import VectorAssembler
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from spark_analytics.session import build_session

    os.environ["SPARK_STATE_DIR"] = str(state)  # this child process only
    spark = build_session("cds-archive")
    csv = state / "in.csv"
    csv.write_text("id,name,amount,at\n1,a,1.50,2026-01-01 10:00:00\n2,b,x,2026-01-02 11:00:00\n")
    (state / "in.json").write_text('{"id": 1, "tags": ["x"]}\n')
    spark.sql("create database if not exists cds")
    raw = spark.read.option("header", True).csv(str(csv))
    raw.createOrReplaceTempView("raw")
    spark.read.json(str(state / "in.json")).createOrReplaceTempView("raw_json")
    spark.sql(
        "create table cds.t using parquet partitioned by (d) as select cast(id as bigint) id, "
        "name, try_cast(amount as decimal(18, 2)) amount, to_timestamp(at) at, "
        "to_date(at) d from raw"
    )
    spark.sql("create or replace view cds.v as select * from cds.t")
    spark.sql("alter view cds.v as select id, name, amount, at, d from cds.t")
    spark.sql("alter table cds.t change column name comment 'n'")
    for statement in ("describe table extended cds.v", "show table extended in cds like '*'"):
        spark.sql(statement).collect()
    frame = spark.table("cds.v").join(
        spark.table("raw_json").select(F.col("id").cast("bigint"), "tags"), "id", "left"
    )
    window = Window.partitionBy("name").orderBy("at")
    frame.withColumn("n", F.row_number().over(window)).groupBy("d").agg(
        F.sum("amount"), F.countDistinct("name"), F.percentile_approx("amount", 0.5)
    ).collect()
    spark.udf.register("py_upper", lambda s: s.upper() if s else s)
    spark.sql("select py_upper(name), window(at, '1 hour') from cds.t").collect()
    rows = [(0.0, 1.0, 0), (1.0, 0.0, 1), (0.5, 0.5, 1)]
    features = spark.createDataFrame(rows, "a double, b double, label int")
    stages = [
        VectorAssembler(inputCols=["a", "b"], outputCol="f"),
        LogisticRegression(featuresCol="f", maxIter=3),
    ]
    Pipeline(stages=stages).fit(features).transform(features).collect()
    spark.sql("drop database cds cascade")
    spark.stop()
    # The JVM writes the archive when it exits, which it does once its stdin closes.
    launcher = SparkContext._gateway.proc
    launcher.stdin.close()
    launcher.wait(timeout=600)


def build(archive: Path, java_home: str, conf_dir: str) -> bool:
    """Build ``archive`` unless its stamp is current; True when it was (re)built."""
    stamp_file = archive.with_suffix(".stamp")
    wanted = stamp(java_home, conf_dir)
    if archive.exists() and stamp_file.exists() and stamp_file.read_text() == wanted:
        return False
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    log4j = Path(__file__).resolve().parents[1] / "conf" / "log4j2.properties"
    options = (
        f'-XX:ArchiveClassesAtExit="{partial}" -Xlog:cds*=error '
        f'-Dlog4j2.configurationFile="{log4j}"'
    )
    conf = shlex.quote(f"spark.driver.defaultJavaOptions={options}")
    env = {**os.environ, "PYSPARK_SUBMIT_ARGS": f"--conf {conf} pyspark-shell"}
    with tempfile.TemporaryDirectory(prefix="cds-") as state:
        subprocess.run(
            [sys.executable, "-m", "spark_analytics.jvm_archive", _WORKLOAD_FLAG, state],
            env=env,
            check=True,
        )
    if not partial.exists():
        raise SystemExit(f"the JVM wrote no archive to {partial}")
    os.replace(partial, archive)
    stamp_file.write_text(wanted)
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(_WORKLOAD_FLAG, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.workload:
        _workload(args.workload)
        return
    archive = Path(os.environ[ARCHIVE_ENV])
    if build(archive, os.environ["JAVA_HOME"], os.environ["SPARK_CONF_DIR"]):
        print(f"jvm_archive: built {archive} ({archive.stat().st_size // 2**20} MiB)")


if __name__ == "__main__":
    main()
