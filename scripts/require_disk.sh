#!/usr/bin/env bash
# Stops a step that would run out of disk half-way, before it starts, with what it needs and what
# is free: otherwise pip fails minutes in with "No space left on device", or a suite fails in
# whichever test happens to write when the disk fills.
# Usage: scripts/require_disk.sh GIB WHAT FOLDER   (FOLDER: where WHAT writes)
set -euo pipefail
need_gib=$1 what=$2 folder=$3
free_kib=$(df -Pk "$folder" | awk 'NR == 2 {print $4}')
if [ "$free_kib" -lt $((need_gib * 1024 * 1024)) ]; then
  free_gib=$(awk -v kib="$free_kib" 'BEGIN {printf "%.1f", kib / 1024 / 1024}')
  echo "$what: needs about $need_gib GiB free in $folder, which has $free_gib GiB free." >&2
  exit 1
fi
