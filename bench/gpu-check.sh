#!/usr/bin/env bash
# The one-command check for an NVIDIA machine: a fresh Release build for its GPU, the whole test
# suite with GPU tests required (a skip fails), the benchmark, and the book run timed on GPU and
# CPU, and the micro-benchmarks. Writes at most 8 files into OUTDIR (build.log, ctest.log,
# train.log, nielsen-cuda.jsonl, nielsen-cpu.jsonl, bench.json, micro.json, summary.txt) and
# prints a short summary last. Meant to finish within 8 minutes on one H200.
#
#   bench/gpu-check.sh OUTDIR            (CUDA_ARCH=90 by default; CUDA_ARCH=native to detect)
#
# Dependencies come from the system or from .deps/root (bench/gpu-deps.sh); MNIST from data/mnist.
set -uo pipefail
out="${1:?usage: bench/gpu-check.sh OUTDIR}"
cd "$(dirname "$0")/.."
mkdir -p "$out"
build=build-gpu
arch="${CUDA_ARCH:-90}"
jobs="$(nproc)"
status=0
summary="$out/summary.txt"
: > "$summary"
note() { echo "$*" | tee -a "$summary"; }

extra=()
if [ -d .deps/root/usr ]; then
  extra+=(-DCMAKE_PREFIX_PATH="$PWD/.deps/root/usr" -DZLIB_USE_STATIC_LIBS=ON)
  export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$PWD/.deps/root/usr/lib/x86_64-linux-gnu"
fi
[ -x /usr/local/cuda/bin/nvcc ] && extra+=(-DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc)

{
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1
  rm -rf "$build"
  t0=$(date +%s)
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBACKPROP_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES="$arch" "${extra[@]}" &&
    cmake --build "$build" -j "$jobs"
  echo "build status $? in $(( $(date +%s) - t0 )) s"
} > "$out/build.log" 2>&1
if ! [ -x "$build/backprop" ]; then
  note "BUILD FAILED: see build.log"; tail -40 "$out/build.log"; exit 1
fi
"$build/backprop" info >> "$out/build.log" 2>&1

# The whole suite; GPU tests fail rather than skip, and the MNIST tests must find the data.
BACKPROP_REQUIRE_GPU=1 BACKPROP_REQUIRE_DATA=1 BACKPROP_DATA="$PWD/data/mnist" \
  ctest --test-dir "$build" --output-on-failure -j 4 --timeout 300 > "$out/ctest.log" 2>&1 || status=1

# The book run: 784-30-10, mini-batch 10, eta 3, 30 epochs on the GPU; 3 epochs on one CPU core.
"$build/backprop" train --device cuda --data data/mnist --epochs 30 --quiet --log "$out/nielsen-cuda.jsonl" \
  > "$out/train.log" 2>&1 || status=1
"$build/backprop" train --device cpu --threads 1 --data data/mnist --epochs 3 --quiet \
  --log "$out/nielsen-cpu.jsonl" >> "$out/train.log" 2>&1 || status=1

# The benchmark suite, where this build has it.
if "$build/backprop" bench --help > /dev/null 2>&1; then
  "$build/backprop" bench --json "$out/bench.json" --max-epoch-seconds 5 --data data/mnist >> "$out/train.log" 2>&1 || status=1
fi

# Kernel and cuBLAS micro-benchmarks at the trainer's shapes.
if [ -x "$build/micro_cuda" ]; then
  "$build/micro_cuda" --benchmark_min_time=0.05 --benchmark_out="$out/micro.json" --benchmark_out_format=json \
    >> "$out/train.log" 2>&1 || status=1
fi

note "== gpu-check summary =="
{ head -2 "$out/build.log"; grep -E "^build status|^GPU|^CUDA" "$out/build.log"; } | tee -a "$summary"
grep -E "tests passed|\(Failed\)|\(Skipped\)|\(Timeout\)" "$out/ctest.log" | head -20 | tee -a "$summary"
python3 - "$out" <<'PY' | tee -a "$summary"
import json, statistics, sys, os
out = sys.argv[1]
def load(name):
    p = os.path.join(out, name)
    return [json.loads(l) for l in open(p)] if os.path.exists(p) else []
gpu, cpu = load("nielsen-cuda.jsonl"), load("nielsen-cpu.jsonl")
if gpu and cpu:
    g = statistics.median(r["train_seconds"] for r in gpu[1:] or gpu)
    c = statistics.median(r["train_seconds"] for r in cpu[1:] or cpu)
    best = max(r["test_correct"] for r in gpu) / gpu[0]["test_count"]
    print(f"784-30-10, mini-batch 10, 50,000 images: GPU {g*1e3:.1f} ms/epoch ({g/5000*1e6:.2f} us/step), "
          f"CPU (1 core) {c*1e3:.1f} ms/epoch, CPU/GPU {c/g:.1f}x; best GPU test accuracy over "
          f"{len(gpu)} epochs {100*best:.2f}%")
else:
    print("training logs missing: see train.log")
PY
[ $status = 0 ] && note "gpu-check: PASSED" || note "gpu-check: FAILED (see ctest.log / train.log)"
exit $status
