#!/usr/bin/env bash
# Prepares what the GPU check carries and prints the exact device call, with the size that would
# travel. The device tool sends the working tree (tracked files, untracked files git does not
# ignore, shared/) plus the ignored paths named in `carry`, 64 MiB in all; this fails above
# LIMIT_MIB (60 by default), before any device time is spent.
#
#   bench/gpu-plan.sh [--data DIR] [--no-prepare]      (also: bench/gpu-check.sh --plan ...)
#
# It makes .gpu-data/mnist (the four MNIST files gzipped, checksums verified by
# scripts/fetch-mnist, from DIR, $BACKPROP_DATA or data/mnist) and .deps (bench/gpu-deps.sh) where
# they are missing. --no-prepare only measures what is there.
set -euo pipefail
cd "$(dirname "$0")/.."
limit_mib="${LIMIT_MIB:-60}"
src="${BACKPROP_DATA:-data/mnist}" prepare=1
while [ $# -gt 0 ]; do
  case "$1" in
    --data) [ $# -ge 2 ] || { echo "gpu-plan: --data needs a folder" >&2; exit 2; }; src="$2"; shift 2 ;;
    --no-prepare) prepare=0; shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu-plan: unknown argument $1" >&2; exit 2 ;;
  esac
done

carry=(.gpu-data .deps)
timeout_s=540  # the check's own phases fit in 480 s (bench/gpu-check.sh --budget)
command='bench/gpu-check.sh "$OUT"'
rerun='bench/gpu-check.sh --keep-build "$OUT"'

if [ "$prepare" = 1 ]; then
  # MNIST as gzip (11 MB, against 53 MB raw): fetch-mnist copies and verifies, raw files are then
  # compressed in place (the loader and the tests read either).
  scripts/fetch-mnist .gpu-data/mnist --from "$src" >/dev/null
  for f in .gpu-data/mnist/*-ubyte; do
    [ -e "$f" ] || continue
    gzip -n -f "$f"
  done
  [ -d .deps/root ] || bench/gpu-deps.sh
fi
for c in "${carry[@]}"; do
  git check-ignore -q "$c" || { echo "gpu-plan: $c is not ignored by git, so it would travel twice" >&2; exit 1; }
  [ -d "$c" ] || { echo "gpu-plan: $c is missing (run without --no-prepare)" >&2; exit 1; }
done

# Bytes of the regular files and links among NUL-separated paths on stdin (folders count nothing).
bytes() { xargs -0 -r stat -c '%F %s' -- 2>/dev/null | awk '$1 != "directory" { s += $NF } END { print s + 0 }'; }
tracked=$(git ls-files -z | bytes)
untracked=$(git ls-files -z --others --exclude-standard | bytes)
shared=0
[ -d shared ] && shared=$(find shared -print0 | bytes)
total=$((tracked + untracked + shared))
declare -A carried
for c in "${carry[@]}"; do
  carried[$c]=$(find "$c" -print0 | bytes)
  total=$((total + carried[$c]))
done
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

echo "gpu-plan: what would travel"
printf '  %-36s %s\n' "tracked files" "$(mib "$tracked")" "untracked files git does not ignore" "$(mib "$untracked")" \
  "shared/" "$(mib "$shared")"
for c in "${carry[@]}"; do printf '  %-36s %s\n' "carry $c" "$(mib "${carried[$c]}")"; done
printf '  %-36s %s (limit %s MiB; the tool refuses above 64)\n' "total" "$(mib "$total")" "$limit_mib"

carry_json=$(printf '"%s", ' "${carry[@]}")
carry_json="[${carry_json%, }]"
[ "${#command}" -le 2000 ] && [ "${#carry[@]}" -le 8 ] || { echo "gpu-plan: the call is over the tool's limits" >&2; exit 1; }
echo "gpu-plan: the device call (run), from this checkout:"
echo "  {\"command\": \"${command//\"/\\\"}\", \"carry\": $carry_json, \"timeout_s\": $timeout_s}"
echo "gpu-plan: a rerun in the same lease, keeping the build:"
echo "  {\"command\": \"${rerun//\"/\\\"}\", \"carry\": $carry_json, \"timeout_s\": $timeout_s}"
if [ "$total" -gt $((limit_mib * 1048576)) ]; then
  echo "gpu-plan: FAILED: $(mib "$total") would travel, over $limit_mib MiB" >&2
  exit 1
fi
echo "gpu-plan: OK"
