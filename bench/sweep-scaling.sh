#!/bin/sh
# Two networks on two threads against one network on one thread, side by side (interleaved, best
# of REPEATS wall times each): the ratio `backprop sweep` is meant to keep at most 1.15 on a
# quiet 2-core machine. Usage: bench/sweep-scaling.sh [BINARY] [EPOCHS] [REPEATS]
set -eu
bin=${1:-build-cpu/backprop}
epochs=${2:-3}
repeats=${3:-3}
data=${BACKPROP_DATA:-data/mnist}
now() { date +%s.%N; }
run() {  # $1: seeds, $2: threads; prints the wall seconds
  t0=$(now)
  "$bin" sweep --data "$data" --layers 784,30,10 --epochs "$epochs" --seeds "$1" --threads "$2" >/dev/null
  awk -v a="$(now)" -v b="$t0" 'BEGIN { print a - b }'
}
best1= best2=
i=0
while [ "$i" -lt "$repeats" ]; do
  one=$(run 1 1)
  two=$(run 1-2 2)
  printf 'try %d: one network, 1 thread %.2f s; two networks, 2 threads %.2f s\n' "$((i + 1))" "$one" "$two"
  best1=$(awk -v a="$one" -v b="${best1:-1e9}" 'BEGIN { print (a < b ? a : b) }')
  best2=$(awk -v a="$two" -v b="${best2:-1e9}" 'BEGIN { print (a < b ? a : b) }')
  i=$((i + 1))
done
printf 'best: one %.2f s, two %.2f s, ratio %.3f (%s epochs of 784-30-10, %s cores)\n' "$best1" "$best2" \
  "$(awk -v a="$best2" -v b="$best1" 'BEGIN { print a / b }')" "$epochs" "$(nproc)"
