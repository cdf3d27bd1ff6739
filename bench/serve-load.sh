#!/usr/bin/env bash
# The loopback load test of `backprop serve` as a user runs it: starts BUILD/backprop serve on a
# free port with MODEL (default: a 784-30-10 trained for 2 epochs on data/mnist), sends REQUESTS
# predictions (tests/data's PNGs) from CLIENTS concurrent clients with BUILD/serve_load, prints
# the answered count, median/p99 latency and throughput, and stops the server with SIGTERM.
#   bench/serve-load.sh [BUILD=build] [MODEL] [REQUESTS=1000] [CLIENTS=8]
set -euo pipefail
build=${1:-build}
model=${2:-}
requests=${3:-1000}
clients=${4:-8}
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
if [ -z "$model" ]; then
  model=$work/model.safetensors
  "$build/backprop" train --epochs 2 --device cpu --save "$model" --quiet > /dev/null
fi
"$build/backprop" serve --model "$model" --port 0 > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do
  grep -q 'http://' "$work/serve.log" && break
  sleep 0.1
done
port=$(sed -n 's|.*http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$work/serve.log")
[ -n "$port" ] || { cat "$work/serve.log"; exit 1; }
echo "backprop serve --model $(basename "$model") on port $port; $(nproc) CPUs; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
status=0
"$build/serve_load" --port "$port" --requests "$requests" --clients "$clients" || status=$?
kill -TERM "$server"
wait "$server" || status=$?
tail -1 "$work/serve.log"
exit $status
