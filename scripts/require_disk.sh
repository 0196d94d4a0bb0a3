#!/usr/bin/env bash
# Stops a step that would run out of disk half-way, before it starts, with what it needs and what
# is free: otherwise pip fails minutes in with "No space left on device", or a suite fails in
# whichever test happens to write when the disk fills. SKIP_DISK_CHECK=1 goes on regardless.
# Usage: scripts/require_disk.sh GIB WHAT FOLDER (GIB may have decimals; FOLDER: where WHAT writes)
set -euo pipefail
need_gib=$1 what=$2 folder=$3
[ "${SKIP_DISK_CHECK:-}" = 1 ] && exit 0
if [ ! -d "$folder" ]; then
  echo "$what: $folder does not exist." >&2
  exit 1
fi
# The available column is the one before the use percentage: a space in the file system's name or
# in the mount point shifts the columns counted from either end.
free_kib=$(df -Pk "$folder" \
  | awk 'NR == 2 {for (i = 2; i <= NF; i++) if ($i ~ /%$/) {print $(i - 1); exit}}')
case $free_kib in
  '' | *[!0-9]*)
    echo "$what: cannot read the free space of $folder from df; not checking it." >&2
    exit 0
    ;;
esac
if awk -v kib="$free_kib" -v gib="$need_gib" 'BEGIN {exit !(kib < gib * 1024 * 1024)}'; then
  # Rounded down: never "needs 1 GiB, has 1.0".
  free_gib=$(awk -v kib="$free_kib" 'BEGIN {printf "%.1f", int(kib * 10 / 1024 / 1024) / 10}')
  echo "$what: needs $need_gib GiB free in $folder, which has $free_gib GiB free." \
    "Free some space there, or set SKIP_DISK_CHECK=1 to go on without this check." >&2
  exit 1
fi
