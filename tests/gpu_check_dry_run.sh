#!/usr/bin/env bash
# bench/gpu-check.sh --dry-run on a machine without a usable GPU: the versions are logged, the
# given build is used as it is, and the check stops in the device phase with its exit code (13)
# and the reason; nothing after it runs, and OUTDIR holds at most 8 files (the device tool's
# limit). Skipped (77) where a GPU is usable: there the real check runs instead. The emulated
# device of the test build is no GPU: the check stops there too.
#
#   tests/gpu_check_dry_run.sh BUILD_DIR
set -uo pipefail
build="${1:?usage: tests/gpu_check_dry_run.sh BUILD_DIR}"
src="$(cd "$(dirname "$0")/.." && pwd)"
info="$("$build/backprop" info 2>&1)"
if grep -q '^GPU 0:' <<< "$info" && ! grep -q '^CUDA device: none usable' <<< "$info" &&
   ! grep -q '^GPU 0: CUDA emulation' <<< "$info"; then
  echo "a GPU is usable here: the dry run is for machines without one"; exit 77
fi
out="$(mktemp -d "${TMPDIR:-/tmp}/gpu-check-dry.XXXXXX")"
trap 'rm -rf "$out"' EXIT
"$src/bench/gpu-check.sh" --dry-run --build-dir "$build" "$out/result" > "$out/stdout" 2>&1
rc=$?
fail() { echo "FAIL: $*"; echo "--- output:"; cat "$out/stdout"; exit 1; }
[ "$rc" = 13 ] || fail "exit code $rc, expected 13 (the device phase)"
summary="$out/result/summary.txt"
[ -f "$summary" ] || fail "no summary.txt"
grep -Eq '^versions +10 +ok' "$summary" || fail "the versions phase did not pass"
grep -Eq '^device +13 +FAILED .*no usable CUDA device: ' "$summary" || fail "the device phase does not fail with the reason"
for p in tests book bench sweep micro anchor; do
  grep -Eq "^$p +[0-9]+ +not run" "$summary" || fail "phase $p ran in a dry run"
done
grep -q '^gpu-check: FAILED in phase device (exit 13)$' "$summary" || fail "no verdict line"
files=$(find "$out/result" -type f | wc -l)
[ "$files" -le 8 ] || fail "$files files in OUTDIR, more than the 8 the device tool brings back"
logs="$(tar -tzf "$out/result/logs.tar.gz")" || fail "logs.tar.gz is unreadable"
grep -qx './versions.log' <<< "$logs" || fail "versions.log is not in logs.tar.gz"
grep -qx './device.log' <<< "$logs" || fail "device.log is not in logs.tar.gz"
echo "gpu-check dry run: stopped in the device phase as it should"
cat "$summary"
