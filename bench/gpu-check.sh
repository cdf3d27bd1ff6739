#!/usr/bin/env bash
# The one-call check for an NVIDIA machine (the lent H200: 16 cores, no network). Phases, each
# with its own timeout, inside one overall budget (480 s by default):
#
#   phase      exit  what
#   versions    10   toolchain and driver versions (nvcc, g++, cmake, ninja, nvidia-smi, the cuBLAS
#                    libraries, torch)
#   configure   11   CMake, Release, CUDA for sm_90 (CUDA_ARCH), dependencies from .deps/root
#   build       12   what the phases below run, -j nproc: backprop, backprop_tests, micro_cuda, and
#                    the Python module and serve tests where they were configured (ctest runs them)
#   device      13   `backprop info` must see a usable GPU
#   tests       14   the whole suite with BACKPROP_REQUIRE_GPU=1 and BACKPROP_REQUIRE_DATA=1: the
#                    Cuda* tests first (they are what this machine is for), then the rest
#   book        15   the book run (784-30-10, batch 10, eta 3, 30 epochs) on the cuBLAS engine; 3
#                    epochs on one CPU core
#   fused       20   the book run on the fused engine, its wall time (loading and evaluation
#                    included) against the issue's 1 s; its epochs against cuBLAS's, the CPU's and
#                    PyTorch's in the summary
#   bench       16   backprop bench --backends fused,cuda --json (each row with its predicted µs/step)
#   sweep       19   100 networks of 784-30-10 trained together on the fused engine (sweep --device
#                    cuda --engine fused) against one network; the ratio goes to the summary
#   micro       17   the CUDA micro-benchmarks (Google Benchmark)
#   anchor      18   the PyTorch anchor (bench/anchors/pytorch_sgd.py) on the same GPU
#
# The exit code is that of the first phase that failed (0: all passed; 2: bad arguments). After
# every phase OUTDIR/summary.txt is rewritten and the logs archived into OUTDIR/logs.tar.gz, so a
# run stopped from outside still leaves both. OUTDIR holds at most 8 files: summary.txt,
# logs.tar.gz, ctest.log, book-cuda.jsonl, book-fused.jsonl, bench.json, micro.json,
# anchor-pytorch.jsonl.
#
#   bench/gpu-check.sh [options] OUTDIR
#     --data DIR        MNIST folder (default $BACKPROP_DATA, else .gpu-data/mnist, else data/mnist)
#     --build-dir DIR   build folder (default build-gpu; with --dry-run, build)
#     --keep-build      keep the build folder of an earlier run in the same lease (incremental build)
#     --budget SECONDS  overall budget (default 480)
#     --dry-run         for a machine without a GPU: no configure or build (the build folder is
#                       used as it is), and stop after the device phase, which fails there
#   bench/gpu-check.sh --plan [...]   prepare what travels and print the device call (gpu-plan.sh)
set -uo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

if [ "${1:-}" = "--plan" ]; then shift; exec bench/gpu-plan.sh "$@"; fi

usage() { sed -n '2,/^set /{/^#/p}' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }  # the header above
data="${BACKPROP_DATA:-}" build="" keep=0 dry=0 budget=480 out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --data) [ $# -ge 2 ] || usage; data="$2"; shift 2 ;;
    --build-dir) [ $# -ge 2 ] || usage; build="$2"; shift 2 ;;
    --keep-build) keep=1; shift ;;
    --budget) [ $# -ge 2 ] && [[ "$2" =~ ^[0-9]+$ ]] || usage; budget="$2"; shift 2 ;;
    --dry-run) dry=1; shift ;;
    -h|--help) usage ;;
    -*) echo "gpu-check: unknown option $1" >&2; usage ;;
    *) [ -z "$out" ] || usage; out="$1"; shift ;;
  esac
done
[ -n "$out" ] || usage
if [ -z "$data" ]; then
  data=data/mnist
  [ -e .gpu-data/mnist/train-images-idx3-ubyte.gz ] && data=.gpu-data/mnist
fi
[ -n "$build" ] || { [ "$dry" = 1 ] && build=build || build=build-gpu; }
case "$data" in /*) ;; *) data="$root/$data" ;; esac
case "$build" in /*) ;; *) build="$root/$build" ;; esac
mkdir -p "$out" || exit 2
out="$(cd "$out" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")"
trap 'rm -rf "$work"' EXIT
arch="${CUDA_ARCH:-90}"
jobs="$(nproc)"
start=$(date +%s)

phases=(versions configure build device tests book fused bench sweep micro anchor)
declare -A code=([versions]=10 [configure]=11 [build]=12 [device]=13 [tests]=14 [book]=15 [bench]=16 [micro]=17 [anchor]=18 [sweep]=19 [fused]=20)
declare -A limit=([versions]=30 [configure]=60 [build]=200 [device]=30 [tests]=150 [book]=90 [fused]=30 [bench]=100 [sweep]=30 [micro]=50 [anchor]=80)
declare -A state seconds note
for p in "${phases[@]}"; do state[$p]="not run"; seconds[$p]=""; note[$p]=""; done
failed=""

# Dependencies carried from here (bench/gpu-deps.sh), where the machine has none of its own.
cmake_extra=()
if [ -d .deps/root/usr ]; then
  cmake_extra+=(-DCMAKE_PREFIX_PATH="$root/.deps/root/usr" -DZLIB_USE_STATIC_LIBS=ON)
  export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$root/.deps/root/usr/lib/x86_64-linux-gnu:$root/.deps/root/usr/lib/x86_64-linux-gnu/blis-openmp"
  [ -f .deps/root/fonts.conf ] && export FONTCONFIG_FILE="$root/.deps/root/fonts.conf"  # the bundle's DejaVu fonts
fi
[ -x /usr/local/cuda/bin/nvcc ] && cmake_extra+=(-DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc)
export PATH="$PATH:/usr/local/cuda/bin"

# The numbers worth reading first, from whatever the phases have left.
numbers() {
  python3 - "$out" "$work" <<'PY' 2>/dev/null
import json, os, statistics, sys
out, work = sys.argv[1], sys.argv[2]
def lines(path):
    try:
        return [json.loads(l) for l in open(path) if l.strip()]
    except (OSError, ValueError):
        return []
gpu, cpu = lines(os.path.join(out, "book-cuda.jsonl")), lines(os.path.join(work, "book-cpu.jsonl"))
med = lambda rows: statistics.median(r["train_seconds"] for r in (rows[1:] or rows))
if gpu:
    g = med(gpu)
    best = max(r["test_correct"] for r in gpu) / gpu[0]["test_count"]
    line = f"book run on the GPU: {g*1e3:.1f} ms/epoch ({g/5000*1e6:.2f} us/step), best test accuracy {100*best:.2f}% over {len(gpu)} epochs"
    if cpu:
        line += f"; CPU (1 core) {med(cpu)*1e3:.1f} ms/epoch, CPU/GPU {med(cpu)/g:.1f}x"
    print(line)
fused = lines(os.path.join(out, "book-fused.jsonl"))
anchor = lines(os.path.join(out, "anchor-pytorch.jsonl"))
if fused:
    f = med(fused)
    best = max(r["test_correct"] for r in fused) / fused[0]["test_count"]
    verdict = lambda ok: "within" if ok else "OVER"
    line = (f"fused book run: {f*1e3:.2f} ms/epoch ({f/5000*1e6:.2f} us/step; {verdict(f <= 0.010)} the issue's 10 ms), "
            f"best test accuracy {100*best:.2f}% over {len(fused)} epochs")
    try:
        wall = float(open(os.path.join(work, "fused-wall.txt")).read())
        line += f"; {wall:.2f} s wall for the whole run ({verdict(wall < 1.0)} the issue's 1 s)"
    except (OSError, ValueError):
        pass
    if gpu:
        line += f"; cuBLAS/fused {med(gpu)/f:.1f}x"
    if cpu:
        line += f"; CPU (1 core)/fused {med(cpu)/f:.1f}x"
    if anchor:
        a = statistics.median(r["train_seconds"] for r in (anchor[1:] or anchor))
        line += f"; PyTorch/fused {a/f:.0f}x ({verdict(a/f >= 100)} the issue's 100x)"
    print(line)
if anchor:
    a = statistics.median(r["train_seconds"] for r in (anchor[1:] or anchor))
    last = anchor[-1]
    line = f"PyTorch anchor on the GPU: {a:.2f} s/epoch, test accuracy {100*last['test_correct']/last['test_count']:.2f}% after {len(anchor)} epochs"
    if gpu:
        line += f"; PyTorch/backprop (cuBLAS) {a/med(gpu):.1f}x"
    print(line)
one, many = lines(os.path.join(work, "sweep-one.jsonl")), lines(os.path.join(work, "sweep-100.jsonl"))
if one and many:
    # the second epoch of each (the first pays for uploads, cuBLAS's first calls and graph capture)
    t1 = one[-1]["train_seconds"]
    t100 = max(r["train_seconds"] for r in many if r["epoch"] == one[-1]["epoch"])
    nets = len({r["network"] for r in many})
    verdict = "within" if t100 <= 1.5 * t1 else "OVER"
    print(f"sweep (fused engine): {nets} networks of 784-30-10 together {t100:.3f} s/epoch, one network {t1:.3f} s/epoch: "
          f"{t100/t1:.2f}x ({verdict} the issue's 1.5x)")
try:
    bench = json.load(open(os.path.join(out, "bench.json")))
    gpu_info = bench.get("gpu") or {}
    print(f"bench: {len(bench['rows'])} rows on {gpu_info.get('name', '?')}, CUDA runtime {gpu_info.get('cuda_runtime', '?')}, "
          f"driver {gpu_info.get('nvidia_driver') or gpu_info.get('cuda_driver', '?')}")
    for r in bench["rows"]:
        p = r.get("predicted_us_per_step")  # --device auto's cost model, to check against the measurement
        predicted = f" (predicted {p:.2f})" if isinstance(p, (int, float)) else ""
        print(f"  {r['config']:<10} {r['backend']:<6} {r['layers']:<22} batch {r['batch']:>5}  {r['epoch_seconds']:.4g} s/epoch"
              f"  {r['microseconds_per_step']:.2f} us/step{predicted}  accuracy {100*r['test_accuracy']:.2f}%")
except (OSError, ValueError, KeyError, TypeError):
    pass
PY
}

# Rewrites summary.txt and logs.tar.gz: called at the start and end of every phase.
checkpoint() {
  local p
  {
    echo "== gpu-check $(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || echo '?') $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "data $data, build $build (CUDA_ARCH=$arch), budget $budget s, $(( $(date +%s) - start )) s so far"
    [ -s "$work/gpu.txt" ] && echo "GPU: $(cat "$work/gpu.txt")"
    printf '%-10s %-5s %-22s %7s  %s\n' phase exit state seconds note
    for p in "${phases[@]}"; do
      printf '%-10s %-5s %-22s %7s  %s\n' "$p" "${code[$p]}" "${state[$p]}" "${seconds[$p]}" "${note[$p]}"
    done
    numbers
    if [ -n "$failed" ]; then echo "gpu-check: FAILED in phase $failed (exit ${code[$failed]})"
    elif [ -n "${1:-}" ]; then echo "gpu-check: $1"; fi
  } > "$out/summary.txt.part" && mv -f "$out/summary.txt.part" "$out/summary.txt"
  tar -czf "$out/logs.tar.gz.part" -C "$work" . 2>/dev/null && mv -f "$out/logs.tar.gz.part" "$out/logs.tar.gz"
}

# run_phase NAME FUNCTION: runs it under the phase's timeout (never past the budget), logging to
# $work/NAME.log; records the state, and the first failure.
run_phase() {
  local p="$1" fn="$2" left t0 rc
  left=$(( budget - ($(date +%s) - start) ))
  if [ "$left" -lt 5 ]; then
    state[$p]="skipped: no time left"
    [ -n "$failed" ] || failed="$p"
    checkpoint; return 1
  fi
  local t=$(( limit[$p] < left ? limit[$p] : left ))
  state[$p]="running (limit ${t} s)"
  checkpoint
  echo "gpu-check: $p (limit $t s)..."
  t0=$(date +%s)
  PHASE_DEADLINE=$(( t0 + t )) "$fn" > "$work/$p.log" 2>&1
  rc=$?
  seconds[$p]=$(( $(date +%s) - t0 ))
  if [ "$rc" = 0 ]; then
    state[$p]="ok"
  else
    [ "$rc" = 124 ] || [ "$rc" = 137 ] && note[$p]="timed out after $t s${note[$p]:+; ${note[$p]}}"
    state[$p]="FAILED"
    [ -n "$failed" ] || failed="$p"
    [ -n "${note[$p]}" ] || note[$p]="$(grep -v '^\s*$' "$work/$p.log" | tail -1 | cut -c1-160)"
    echo "gpu-check: $p FAILED (exit $rc); the end of $p.log:"
    tail -30 "$work/$p.log"
  fi
  echo "gpu-check: $p ${state[$p]} in ${seconds[$p]} s"
  checkpoint
  [ "$rc" = 0 ]
}

# Runs a command within what is left of the phase's time (a phase of several commands shares
# one limit); the children of a timed-out command are killed too. 124 when the time is up.
limited() {
  local left=$(( PHASE_DEADLINE - $(date +%s) ))
  [ "$left" -gt 0 ] || return 124
  timeout --kill-after=10 "$left" "$@"
}

phase_versions() {
  date -u; uname -a; nproc
  local tool text
  for tool in nvcc g++ cmake ninja; do
    echo "== $tool"
    if text="$("$tool" --version 2>&1)"; then head -4 <<< "$text"; else echo "$tool: not found"; fi
  done
  echo "== nvidia-smi"
  if command -v nvidia-smi >/dev/null; then
    limited nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv,noheader |
      tee "$work/gpu.txt"
    limited nvidia-smi
  else
    echo "nvidia-smi: not found (no NVIDIA driver here)"
  fi
  echo "== cuBLAS"
  ls -l /usr/local/cuda/lib64/libcublas* 2>&1
  echo "== python3 / torch"
  limited python3 -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__, "CUDA", torch.version.cuda, "available", torch.cuda.is_available())' 2>&1 | tail -1
  [ -d .deps/root/usr ] && echo "dependencies: .deps/root (carried)" || echo "dependencies: the system's"
  ls -la "$data" 2>&1
  return 0
}

phase_configure() {
  [ "$keep" = 1 ] || rm -rf "$build"
  limited cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBACKPROP_CUDA=ON -DBACKPROP_TESTS=ON \
    -DCMAKE_CUDA_ARCHITECTURES="$arch" "${cmake_extra[@]}"
}

# Only the targets the later phases use (all of them would add the CPU micro-benchmarks and more):
# those of the list that this configuration has.
phase_build() {
  local ninja known t targets=()
  ninja="$(sed -n 's/^CMAKE_MAKE_PROGRAM:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null)"
  known="$("${ninja:-ninja}" -C "$build" -t targets all 2>&1)" || { echo "$known"; return 1; }
  for t in backprop backprop_tests micro_cuda backprop_python backprop_serve_tests serve_load; do
    grep -q "^$t: " <<< "$known" && targets+=("$t")
  done
  echo "building: ${targets[*]}"
  limited cmake --build "$build" -j "$jobs" --target "${targets[@]}"
}

phase_skip_build() {
  note[build]="dry run: $build used as it is"
  echo "dry run: using $build as it is"
  [ -x "$build/backprop" ] || { echo "dry run: $build/backprop is missing: build it first (cmake -B build -G Ninja && cmake --build build)"; return 1; }
}

phase_device() {
  local info
  info="$(limited "$build/backprop" info 2>&1)" || { echo "$info"; return 1; }
  echo "$info"
  if grep -q '^CUDA device: none usable' <<< "$info" || ! grep -q '^GPU 0:' <<< "$info"; then
    echo "no usable CUDA device: $(sed -n 's/^CUDA device: none usable (\(.*\))$/\1/p' <<< "$info")"
    return 1
  fi
  if grep -q '^GPU 0: CUDA emulation' <<< "$info"; then
    echo "no usable CUDA device: the build is the CUDA emulation (test build), not a GPU"
    return 1
  fi
}

# The Cuda* tests first, so that a short budget still gets to them, then the rest; the phase fails
# if either run does (with the first failure's exit code; 124 when the time ran out).
phase_tests() {
  local rc rest
  echo "== the Cuda* tests"
  BACKPROP_REQUIRE_GPU=1 BACKPROP_REQUIRE_DATA=1 BACKPROP_DATA="$data" \
    limited ctest --test-dir "$build" --output-on-failure -j "$(( jobs / 2 > 1 ? jobs / 2 : 1 ))" --timeout 120 \
      --no-tests=error -R '^Cuda'
  rc=$?
  echo "== the other tests"
  BACKPROP_REQUIRE_GPU=1 BACKPROP_REQUIRE_DATA=1 BACKPROP_DATA="$data" \
    limited ctest --test-dir "$build" --output-on-failure -j "$(( jobs / 2 > 1 ? jobs / 2 : 1 ))" --timeout 120 \
      -E '^Cuda'
  rest=$?
  [ "$rc" != 0 ] || rc=$rest
  cp "$work/tests.log" "$out/ctest.log" 2>/dev/null
  return $rc
}

phase_book() {
  limited "$build/backprop" train --device cuda --engine cublas --data "$data" --epochs 30 --log "$out/book-cuda.jsonl" \
    --quiet || return 1
  limited "$build/backprop" train --device cpu --threads 1 --data "$data" --epochs 3 --log "$work/book-cpu.jsonl" --quiet
}

# The whole command timed, as a user waits for it: loading, 30 epochs, every evaluation.
phase_fused() {
  local t0 t1
  t0=$(date +%s.%N)
  limited "$build/backprop" train --device cuda --engine fused --data "$data" --epochs 30 --log "$out/book-fused.jsonl" \
    --quiet || return 1
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }' | tee "$work/fused-wall.txt"
}

phase_bench() {
  limited "$build/backprop" bench --backends fused,cuda --widths 15,30,100,300,1000 --max-epoch-seconds 5 --data "$data" \
    --json "$out/bench.json" --markdown "$work/bench.md"
}

# One network and 100 trained together (a thread block each) on the fused engine, 2 epochs each
# on the book's settings; numbers() compares their second epochs.
phase_sweep() {
  limited "$build/backprop" train --device cuda --engine fused --data "$data" --epochs 2 --log "$work/sweep-one.jsonl" \
    --quiet || return 1
  limited "$build/backprop" sweep --device cuda --engine fused --data "$data" --layers 784,30,10 --seeds 1-100 --epochs 2 \
    --log "$work/sweep-100.jsonl" | tail -15
  return "${PIPESTATUS[0]}"
}

phase_micro() {
  [ -x "$build/micro_cuda" ] || { echo "micro_cuda was not built (Google Benchmark missing)"; return 1; }
  limited "$build/micro_cuda" --benchmark_min_time=0.05 --benchmark_out="$out/micro.json" --benchmark_out_format=json
}

phase_anchor() {
  PYTHONUNBUFFERED=1 limited python3 bench/anchors/pytorch_sgd.py --device cuda --data "$data" --epochs 3 \
    > "$out/anchor-pytorch.jsonl"
}

run_phase versions phase_versions
if [ "$dry" = 1 ]; then
  state[configure]="skipped: dry run"
  if run_phase build phase_skip_build && run_phase device phase_device; then
    checkpoint "dry run: a GPU is usable here; the real check is bench/gpu-check.sh OUTDIR"
  fi
else
  run_phase configure phase_configure && run_phase build phase_build && run_phase device phase_device &&
    { run_phase tests phase_tests; run_phase book phase_book; run_phase fused phase_fused; run_phase bench phase_bench
      run_phase sweep phase_sweep; run_phase micro phase_micro; run_phase anchor phase_anchor; }
  [ -n "$failed" ] || checkpoint "PASSED in $(( $(date +%s) - start )) s"
fi
cat "$out/summary.txt"
[ -z "$failed" ] || exit "${code[$failed]}"
exit 0
