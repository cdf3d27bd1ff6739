#!/usr/bin/env bash
# The CPU figures of issue 13 side by side, one command: microseconds per step of `seed`
# (784-15-10) and `nielsen` (784-30-10) on every kernel path this CPU runs, for the native build
# and the portable one (BACKPROP_NATIVE=OFF); load and evaluation seconds; the whole 30-epoch
# book run (`backprop train`, loading and evaluation included) wall time at --threads 1 and 2.
# Every figure is the best of --repeats runs, the runs of the two builds interleaved, so that a
# busy machine slows both alike (quote such figures as "under load").
#
#   bench/cpu-speed.sh [--native DIR] [--portable DIR] [--repeats N] [--epochs N] [--no-whole-run]
#
# DIRs are build folders (default build-cpu and build-portable); a missing one is configured and
# built (CPU-only, no tests). Needs MNIST in data/mnist (scripts/fetch-mnist).
set -euo pipefail
cd "$(dirname "$0")/.."

native=build-cpu portable=build-portable repeats=3 epochs=3 whole_run=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --native) native="$2"; shift 2 ;;
    --portable) portable="$2"; shift 2 ;;
    --repeats) repeats="$2"; shift 2 ;;
    --epochs) epochs="$2"; shift 2 ;;
    --no-whole-run) whole_run=0; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "cpu-speed: unknown argument $1" >&2; exit 2 ;;
  esac
done

build() {  # DIR NATIVE(ON|OFF)
  if [[ ! -x "$1/backprop" ]]; then
    echo "cpu-speed: building $1 (BACKPROP_NATIVE=$2)..." >&2
    cmake -S . -B "$1" -G Ninja -DBACKPROP_CUDA=OFF -DBACKPROP_NATIVE="$2" -DBACKPROP_TESTS=OFF \
      -DBACKPROP_PYTHON=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  ninja -C "$1" backprop >/dev/null
}
build "$native" ON
build "$portable" OFF

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
paths=$("$native/backprop" info | sed -n 's/^CPU GEMM: \([a-z0-9]*\) path.*/\1/p')
runnable="avx512 avx2 plain"
[[ "$paths" == avx2 ]] && runnable="avx2 plain"
[[ "$paths" == plain ]] && runnable="plain"

echo "CPU: $("$native/backprop" info | sed -n 's/^CPU: //p'); $(date -u '+%Y-%m-%d %H:%M UTC'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$repeats"); do
  for build in native portable; do
    dir=$native; [[ $build == portable ]] && dir=$portable
    for path in $runnable; do
      BACKPROP_CPU_PATH=$path "$dir/backprop" bench --config seed --config nielsen --backends cpu --threads 1 \
        --epochs "$epochs" --json "$tmp/bench-$build-$path-$r.json" >/dev/null 2>&1
    done
    if [[ $whole_run == 1 ]]; then
      for threads in 1 2; do
        /usr/bin/time -f %e -o "$tmp/wall-$build-$threads-$r" "$dir/backprop" train --threads "$threads" \
          >"$tmp/run-$build-$threads-$r" 2>/dev/null
      done
    fi
  done
done

python3 - "$tmp" "$runnable" "$repeats" "$whole_run" <<'EOF'
import glob, json, os, re, sys
tmp, paths, repeats, whole = sys.argv[1], sys.argv[2].split(), int(sys.argv[3]), sys.argv[4] == "1"
def rows(build, path):
    out = {}
    for f in glob.glob(f"{tmp}/bench-{build}-{path}-*.json"):
        rep = json.load(open(f))
        out.setdefault("load", []).append(rep["load_seconds"])
        for row in rep["rows"]:
            c = row["config"]
            out.setdefault(c, []).append(row["epoch_seconds_min"] / row["steps_timed"] * row["epochs_timed"] * 1e6)
            out.setdefault(c + " eval", []).append(row["epoch_eval_seconds"])
    return {k: min(v) for k, v in out.items()}
print(f"best of {repeats}; microseconds per step (fastest timed epoch), one thread")
print(f"{'path':8} {'build':9} {'seed us':>8} {'nielsen us':>10} {'eval s/epoch':>13} {'load s':>7}")
table = {}
for path in paths:
    for build in ("native", "portable"):
        r = rows(build, path)
        table[(path, build)] = r
        if r:
            print(f"{path:8} {build:9} {r['seed']:8.2f} {r['nielsen']:10.2f} {r['nielsen eval']:13.4f} {r['load']:7.3f}")
for path in paths:
    n, p = table[(path, "native")], table[(path, "portable")]
    if n and p:
        print(f"{path}: portable / native = {p['seed'] / n['seed']:.2f} (seed), {p['nielsen'] / n['nielsen']:.2f} (nielsen)")
if whole:
    print("whole book run (backprop train: 784-30-10, 30 epochs, load and evaluation included), wall seconds:")
    for build in ("native", "portable"):
        for threads in (1, 2):
            walls = [float(open(f).read().split()[-1]) for f in glob.glob(f"{tmp}/wall-{build}-{threads}-*")]
            acc = ""
            runs = glob.glob(f"{tmp}/run-{build}-{threads}-*")
            if runs:
                m = re.search(r"best test accuracy: ([0-9.]+%)", open(runs[0]).read())
                acc = m.group(1) if m else "?"
            print(f"  {build:9} --threads {threads}: {min(walls):.2f} s (best of {len(walls)}), best test accuracy {acc}")
EOF
