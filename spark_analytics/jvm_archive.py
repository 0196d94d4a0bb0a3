"""The class archive that shortens every Spark driver's start: an AOT cache, or CDS on Java < 25.

A Hive-enabled driver loads some 20,000 classes before its first query; about half of its
start-up (15 s on 2 cores) goes there. The JVM can map them from an archive instead.
``scripts/setup.sh`` builds the archive once by running a small workload shaped like the
project's (Hive metastore, CSV/JSON/Parquet, joins, windows, a Python UDF, an MLlib fit) in a
driver that records it at exit; ``scripts/in_env.sh`` then gives every PySpark driver it starts
(dbt's session, the jobs, the tests) the archive through ``spark.driver.defaultJavaOptions``.

The kind follows the Java that runs the drivers, and ``in_env.sh`` names it by its suffix:
``.aot`` on Java 25+, an ahead-of-time cache (JEP 483/514/515: classes loaded *and linked*,
plus method profiles, ``-XX:AOTCacheOutput`` / ``-XX:AOTCache``); ``.jsa`` before, an AppCDS
archive (``-XX:ArchiveClassesAtExit`` / ``-XX:SharedArchiveFile``). Measured in BENCHMARKS.md
(stop 27): on Java 25 + AOT cache a cold 20k-row ``dbt build`` takes 14 % less time (23 % less
CPU) than on Java 17 + CDS, a one-model ``dbt run`` 11 % less.

Either archive is mapped only when the driver's class path is the one it was built with and
its directories are empty, so ``in_env.sh`` points ``SPARK_CONF_DIR`` at an empty folder and
names log4j's file with ``-Dlog4j2.configurationFile``. The JVM checks the archive against its
own version and class path and, if they differ, starts without it (silently: the in_env.sh
flags keep the console clean), so a stale archive costs time, never correctness. The archive
is rebuilt when its stamp (Java version, pyspark version, class path, and the session settings
and workload it was recorded with) changes.

    scripts/in_env.sh python -m spark_analytics.jvm_archive          # build if stale
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ARCHIVE_ENV = "SPARK_JVM_ARCHIVE"
# What the JVM that records an archive is given, by the archive's suffix.
RECORD_OPTIONS = {
    ".aot": "-XX:AOTCacheOutput={path} -Xlog:aot*=error -Xlog:cds*=error",
    ".jsa": "-XX:ArchiveClassesAtExit={path} -Xlog:cds*=error",
}
# What a JVM that maps it is given (the drivers' copy is in scripts/in_env.sh): a stale archive is
# skipped, and these flags keep that off the console.
USE_OPTIONS = {
    ".aot": "-XX:AOTCache={path} -Xlog:aot*=off -Xlog:cds*=off -Xlog:class+path*=off",
    ".jsa": "-XX:SharedArchiveFile={path} -Xlog:cds*=off -Xlog:class+path*=off",
}
_WORKLOAD_FLAG = "--workload"


def spark_jars() -> list[str]:
    """pyspark's jars as the JVM checks them against an archive: name, size, modification time
    (a reinstall of the same version makes an archive stale too)."""
    import pyspark

    jars = sorted((Path(pyspark.__file__).parent / "jars").glob("*.jar"))
    return [f"{jar.name} {jar.stat().st_size} {jar.stat().st_mtime_ns}" for jar in jars]


def java_build(java_home: str) -> str:
    """What `java -version` says: an archive is for one JVM build."""
    return subprocess.run(
        [f"{java_home}/bin/java", "-version"], capture_output=True, text=True, check=True
    ).stderr


def stamp(java_home: str, conf_dir: str) -> str:
    """What the archive depends on: the JVM build, pyspark, the driver's class path, and what
    it was recorded with (the session's default settings, e.g. the shuffle writer, which decide
    the classes a driver loads; this module's workload)."""
    import pyspark

    from spark_analytics.settings import session_conf

    java = java_build(java_home)
    settings = json.dumps(session_conf({}), sort_keys=True)  # defaults only: no caller's env
    workload = Path(__file__).read_text()
    parts = [java, pyspark.__version__, conf_dir, *spark_jars(), settings, workload]
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


def build(archive: Path, wanted: str, record: Callable[[Path], None]) -> bool:
    """Build ``archive`` with ``record`` (given the file to write) unless its stamp is
    ``wanted``; True when it was (re)built.

    Concurrent callers (two ``make`` targets) take turns on a lock: the second finds the stamp
    current. Each records into its own partial file, so a reader never maps a half-written one.
    """
    if archive.suffix not in RECORD_OPTIONS:
        raise SystemExit(f"{archive}: expected a .aot (Java 25+) or .jsa archive")
    stamp_file = archive.with_name(archive.name + ".stamp")
    archive.parent.mkdir(parents=True, exist_ok=True)
    with open(archive.with_name(archive.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if archive.exists() and stamp_file.exists() and stamp_file.read_text() == wanted:
            return False
        for legacy in ("driver.stamp", "driver.partial"):  # names used before stop 27
            (archive.parent / legacy).unlink(missing_ok=True)
        # What an interrupted recording left (the JVM's `.config` file beside a partial).
        for leftover in archive.parent.glob(f"{archive.stem}.*.partial{archive.suffix}*"):
            leftover.unlink(missing_ok=True)
        partial = archive.with_name(f"{archive.stem}.{os.getpid()}.partial{archive.suffix}")
        try:
            record(partial)
        except BaseException:
            for written in (partial, partial.with_name(partial.name + ".config")):
                written.unlink(missing_ok=True)
            raise
        os.replace(partial, archive)
        stamp_file.write_text(wanted)
    return True


def _record(partial: Path) -> None:
    """Run the workload in a driver that writes its archive to ``partial`` at exit."""
    log4j = Path(__file__).resolve().parents[1] / "conf" / "log4j2.properties"
    options = RECORD_OPTIONS[partial.suffix].format(path=f'"{partial}"')
    options += f' -Dlog4j2.configurationFile="{log4j}"'
    conf = shlex.quote(f"spark.driver.defaultJavaOptions={options}")
    env = {**os.environ, "PYSPARK_SUBMIT_ARGS": f"--conf {conf} pyspark-shell"}
    with tempfile.TemporaryDirectory(prefix="cds-") as state:
        # Quiet unless it fails: the JVM narrates the AOT cache's assembly at length.
        recording = subprocess.run(
            [sys.executable, "-m", "spark_analytics.jvm_archive", _WORKLOAD_FLAG, state],
            env=env,
            capture_output=True,
            text=True,
        )
    if recording.returncode != 0:
        partial.unlink(missing_ok=True)
        output = (recording.stdout + recording.stderr)[-4000:]
        raise SystemExit(f"jvm_archive: the recording driver failed:\n{output}")
    if not partial.exists():
        raise SystemExit(f"the JVM wrote no archive to {partial}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(_WORKLOAD_FLAG, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.workload:
        _workload(args.workload)
        return
    archive = Path(os.environ[ARCHIVE_ENV])
    wanted = stamp(os.environ["JAVA_HOME"], os.environ["SPARK_CONF_DIR"])
    if build(archive, wanted, _record):
        print(f"jvm_archive: built {archive} ({archive.stat().st_size // 2**20} MiB)")


if __name__ == "__main__":
    main()
