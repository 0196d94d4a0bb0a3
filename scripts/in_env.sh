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
export SPARK_SHUFFLE_PARTITIONS="${SPARK_SHUFFLE_PARTITIONS:-$(( $(nproc) * 2 ))}"
export SPARK_CONF_DIR="${SPARK_CONF_DIR:-$ROOT/conf}"
export PYSPARK_PYTHON="$ROOT/.venv/bin/python"
export PYSPARK_DRIVER_PYTHON="$ROOT/.venv/bin/python"
mkdir -p "$SPARK_STATE_DIR"
exec "$@"
