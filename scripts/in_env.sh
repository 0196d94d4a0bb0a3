#!/usr/bin/env bash
# Runs a command in the project's environment: venv on PATH, JAVA_HOME, dbt pointed at the
# repository's profiles.yml, Spark state (metastore, warehouse) in one git-ignored folder.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$ROOT/.venv/bin:$PATH"
JAVA_HOME=$("$ROOT/scripts/java_home.sh")
export JAVA_HOME
export DBT_PROFILES_DIR="${DBT_PROFILES_DIR:-$ROOT}"
export DBT_PROJECT_DIR="${DBT_PROJECT_DIR:-$ROOT}"
export SPARK_STATE_DIR="${SPARK_STATE_DIR:-$ROOT/.spark}"
export DATA_DIR="${DATA_DIR:-$ROOT/data}"
# Spark web UIs bind to all interfaces unless told otherwise.
export SPARK_LOCAL_IP="${SPARK_LOCAL_IP:-127.0.0.1}"
# Spark drivers start from a class archive built by setup (spark_analytics/jvm_archive.py):
# an ahead-of-time cache on Java 25+ (.aot), a class-data sharing archive before (.jsa). The
# archive wants no file in a class-path folder, so the driver's SPARK_CONF_DIR is an empty one
# and log4j reads conf/log4j2.properties by name.
java_feature=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$JAVA_HOME/release" 2>/dev/null || true)
if [ "${java_feature:-0}" -ge 25 ]; then archive_kind=aot; else archive_kind=jsa; fi
# An archive named by the caller is kept if it is of this Java's kind (a nested call on another
# Java gets its own): the other kind's options would stop an older JVM from starting.
case "${SPARK_JVM_ARCHIVE:-}" in
  *."$archive_kind") ;;
  *) SPARK_JVM_ARCHIVE="$ROOT/.venv/spark-cds/driver.$archive_kind" ;;
esac
export SPARK_JVM_ARCHIVE
# The Thrift + Connect servers' own archive (spark_analytics/cluster/archive.py, built by `make
# server-archive`), same kind; SPARK_SERVER_ARCHIVE= (empty) starts them without one.
if [ -z "${SPARK_SERVER_ARCHIVE+set}" ] || { [ -n "$SPARK_SERVER_ARCHIVE" ] \
    && [ "${SPARK_SERVER_ARCHIVE##*.}" != "$archive_kind" ]; }; then
  SPARK_SERVER_ARCHIVE="$ROOT/.venv/spark-cds/server.$archive_kind"
fi
export SPARK_SERVER_ARCHIVE
driver_java_options=""
if [ -z "${SPARK_CONF_DIR:-}" ]; then
  SPARK_CONF_DIR="$ROOT/.venv/spark-cds/conf"
  mkdir -p "$SPARK_CONF_DIR"
  driver_java_options="-Dlog4j2.configurationFile=\"$ROOT/conf/log4j2.properties\""
fi
export SPARK_CONF_DIR
# A stale archive is skipped by the JVM; the -Xlog flags keep that skip off the console.
if [ -f "$SPARK_JVM_ARCHIVE" ]; then
  case "$archive_kind" in
    aot) driver_java_options+=" -XX:AOTCache=\"$SPARK_JVM_ARCHIVE\" -Xlog:aot*=off" ;;
    jsa) driver_java_options+=" -XX:SharedArchiveFile=\"$SPARK_JVM_ARCHIVE\"" ;;
  esac
  driver_java_options+=" -Xlog:cds*=off -Xlog:class+path*=off"
fi
# Every Spark JVM the project starts gets SPARK_JVM_OPTIONS: the drivers started from here, and
# the local cluster's daemons, Thrift/Connect driver and executors
# (spark_analytics/cluster/commands.py). Two choices go into it:
# SPARK_JIT=quick: compile Java with C1 only. On small data most of a short JVM's CPU goes to C2
# compiling code that runs for seconds (half of a 20k-row build's CPU); `make test` sets it. The
# default, full (C1 then C2), builds as fast at 1M rows and faster above. For `dbt test` alone
# (many short queries) quick was faster at 1M and slower at 10M, so it stays a choice for your
# data size. Measured in BENCHMARKS.md (stops 26, 28, 48, 52).
# SPARK_GC, the garbage collector: auto (the default) is parallel with SPARK_JIT=quick and G1
# otherwise. On the suites' small data the parallel collector took about 10 % less CPU per build
# (4 % of a suite); at 10M rows the marts path ran 8 % slower with it (its JVM offers Spark 11 %
# less heap, and the model with a distinct count took 75 % longer; BENCHMARKS.md, stop 46).
# SPARK_GC=parallel or g1 forces one.
# A nested call keeps the drivers' inherited PYSPARK_SUBMIT_ARGS (below), so set both once, on
# the outer call.
if [ -n "${SPARK_DRIVER_JIT:-}" ]; then
  echo "SPARK_DRIVER_JIT was renamed SPARK_JIT (it now covers the local cluster's JVMs too)" >&2
  exit 2
fi
case "${SPARK_JIT:-full}" in
  full) jit_options="" ;;
  quick) jit_options=" -XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=240m" ;;
  *) echo "SPARK_JIT is '$SPARK_JIT': expected full or quick" >&2; exit 2 ;;
esac
gc="${SPARK_GC:-auto}"
if [ "$gc" = auto ]; then
  if [ -n "$jit_options" ]; then gc=parallel; else gc=g1; fi
fi
case "$gc" in
  parallel) SPARK_JVM_OPTIONS="-XX:+UseParallelGC$jit_options" ;;
  g1) SPARK_JVM_OPTIONS="-XX:+UseG1GC$jit_options" ;;
  *) echo "SPARK_GC is '$SPARK_GC': expected auto, parallel or g1" >&2; exit 2 ;;
esac
export SPARK_JVM_OPTIONS
driver_java_options+=" $SPARK_JVM_OPTIONS"
export PYSPARK_SUBMIT_ARGS="${PYSPARK_SUBMIT_ARGS:---conf $(printf %q "spark.driver.defaultJavaOptions=$driver_java_options") pyspark-shell}"
export PYSPARK_PYTHON="$ROOT/.venv/bin/python"
export PYSPARK_DRIVER_PYTHON="$ROOT/.venv/bin/python"
mkdir -p "$SPARK_STATE_DIR"
exec "$@"
