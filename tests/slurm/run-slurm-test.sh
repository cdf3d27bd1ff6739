#!/usr/bin/env bash
# The sweep recipes of docs/sweeps.md, run for real: a one-node Slurm on this machine runs the
# repository's scripts/slurm/submit-sweep (a job array of shards, at most 2 at once, and a merge job
# after it with --dependency=afterok), and GNU parallel runs the shards with two local job slots;
# each merged table (and picture) must equal a single-process `backprop sweep` of the same grid.
# Then a shard that dies: an array task cancelled while it trains leaves an incomplete log, the
# merge job never runs (DependencyNeverSatisfied), merge.sbatch and `backprop sweep --merge` refuse
# the logs naming that shard's file, and `submit-sweep --only` that one index completes the sweep.
#
#   tests/slurm/run-slurm-test.sh BACKPROP_BINARY [DATA_DIR]    (DATA_DIR: $BACKPROP_DATA or data/mnist)
#
# It writes a localhost slurm.conf in a temporary folder (this machine's CPUs and memory, its own
# ports, state, spool, pid and log files there) and starts munged (as the munge user, its socket
# in that folder, so a munged the machine runs is left alone), slurmctld and slurmd itself (no
# systemd needed), as root. A trap cancels its jobs and stops every daemon it started by PID, and
# removes their pid files, whatever happens; the folder is removed after a pass and kept (its path
# printed) after a failure. Debian's packages: scripts/install-deps --with-slurm. Exit 77 with
# "skipped: <reason>" where Slurm, MUNGE, GNU parallel or the data are missing or not root; under
# BACKPROP_REQUIRE_SLURM=1 (CI) that is a failure instead. Everything must finish within
# SLURM_TEST_DEADLINE seconds (180).
set -uo pipefail
src="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${1:?usage: tests/slurm/run-slurm-test.sh BACKPROP_BINARY [DATA_DIR]}"
data="${2:-${BACKPROP_DATA:-$src/data/mnist}}"
deadline=$((SECONDS + ${SLURM_TEST_DEADLINE:-180}))

skip() {
  echo "slurm.sweep skipped: $*"
  if [ "${BACKPROP_REQUIRE_SLURM:-}" = 1 ]; then
    echo "FAIL: BACKPROP_REQUIRE_SLURM=1: the Slurm test must run here (scripts/install-deps --with-slurm)"
    exit 1
  fi
  exit 77
}
[ "$(id -u)" = 0 ] || skip "not root (the test starts munged, slurmctld and slurmd itself)"
for c in munged munge unmunge slurmctld slurmd sbatch squeue sinfo scontrol scancel setpriv parallel; do
  command -v "$c" > /dev/null || skip "no $c (scripts/install-deps --with-slurm)"
done
parallel --version 2> /dev/null | grep -q 'GNU parallel' || skip "parallel is not GNU parallel (scripts/install-deps --with-slurm)"
id munge > /dev/null 2>&1 || skip "no munge user (the munge package makes it)"
[ -r /etc/munge/munge.key ] || skip "no /etc/munge/munge.key (the munge package makes it)"
[ -x "$bin" ] || { echo "FAIL: $bin is not an executable"; exit 1; }
if ! compgen -G "$data/train-images*" > /dev/null; then
  [ "${BACKPROP_REQUIRE_DATA:-}" = 1 ] && { echo "FAIL: no MNIST data in $data (BACKPROP_REQUIRE_DATA=1)"; exit 1; }
  skip "no MNIST data in $data (scripts/fetch-mnist)"
fi
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
data="$(cd "$data" && pwd)"
export BACKPROP_DATA="$data"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/slurm-test.XXXXXX")"
chmod 755 "$tmp"
munged_pid="" ctld_pid="" slurmd_pid="" jobs_submitted=()

stop_pid() {  # NAME PID: SIGTERM, 15 s, then SIGKILL; reaps it (each is this shell's child)
  local name="$1" pid="$2" i
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2> /dev/null || { wait "$pid" 2> /dev/null; return 0; }
  kill -TERM "$pid" 2> /dev/null
  for ((i = 0; i < 150; i++)); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2> /dev/null; then
    echo "cleanup: $name ($pid) still running after 15 s: SIGKILL"
    kill -KILL "$pid" 2> /dev/null
  fi
  wait "$pid" 2> /dev/null
  echo "cleanup: stopped $name (pid $pid)"
}
cleanup() {
  local rc=$? i
  trap - EXIT INT TERM
  if [ -n "$ctld_pid" ] && kill -0 "$ctld_pid" 2> /dev/null && [ ${#jobs_submitted[@]} -gt 0 ]; then
    scancel "${jobs_submitted[@]}" 2> /dev/null
    for ((i = 0; i < 100; i++)); do  # the jobs' processes end before slurmd does
      [ -z "$(squeue -h -j "$(IFS=,; echo "${jobs_submitted[*]}")" 2> /dev/null)" ] && break
      sleep 0.1
    done
  fi
  stop_pid slurmd "$slurmd_pid"
  stop_pid slurmctld "$ctld_pid"
  stop_pid munged "$munged_pid"
  rm -f "$tmp/slurmd.pid" "$tmp/slurmctld.pid" "$tmp/munge/munged.pid"
  if [ "$rc" = 0 ]; then
    rm -rf "$tmp"
  else
    echo "the test's folder (slurm.conf, the daemons' logs, the jobs' output) is kept: $tmp"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
  echo "FAIL: $*"
  for f in "$tmp"/slurmctld.log "$tmp"/slurmd.log; do
    [ -f "$f" ] && { echo "--- last lines of $f:"; tail -n 15 "$f"; }
  done
  exit 1
}
past_deadline() { [ "$SECONDS" -ge "$deadline" ]; }
say() { echo; echo "== $* =="; }

# ---- MUNGE, on a socket of its own ----
mkdir -p "$tmp/munge" "$tmp/state" "$tmp/spool" "$tmp/work"
chown munge:munge "$tmp/munge"
chmod 755 "$tmp/munge"  # munged wants its socket folder searchable by all
sock="$tmp/munge/munge.socket"
setpriv --reuid=munge --regid=munge --init-groups munged --foreground --socket="$sock" \
  --pid-file="$tmp/munge/munged.pid" --log-file="$tmp/munge/munged.log" \
  --seed-file="$tmp/munge/munged.seed" > "$tmp/munged.out" 2>&1 &
munged_pid=$!
until munge -n -S "$sock" 2> /dev/null | unmunge -S "$sock" > /dev/null 2>&1; do
  kill -0 "$munged_pid" 2> /dev/null || { cat "$tmp/munged.out" "$tmp/munge/munged.log" 2> /dev/null; fail "munged exited"; }
  past_deadline && fail "munged did not answer"
  sleep 0.1
done

# ---- slurm.conf: this machine as the one node ----
host="$(hostname -s)"
node="$(slurmd -C 2> /dev/null | grep '^NodeName=')"
[ -n "$node" ] || node="NodeName=$host CPUs=$(nproc) RealMemory=$(($(awk '/^MemTotal/ {print $2}' /proc/meminfo) / 1024))"
port_free() { ! (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; }
port=$((20000 + $$ % 20000))
for ((i = 0; i < 50; i++)); do
  port_free "$port" && port_free $((port + 1)) && break
  port=$((port + 2))
done
conf="$tmp/slurm.conf"
cat > "$conf" << EOF
ClusterName=backprop-test
SlurmctldHost=$host
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=600
$node State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$conf"

slurmctld -D -f "$conf" > "$tmp/slurmctld.out" 2>&1 &
ctld_pid=$!
slurmd -D -f "$conf" > "$tmp/slurmd.out" 2>&1 &
slurmd_pid=$!
until [ "$(sinfo -h -N -o %t 2> /dev/null)" = idle ]; do
  kill -0 "$ctld_pid" 2> /dev/null || { cat "$tmp/slurmctld.out"; fail "slurmctld exited"; }
  kill -0 "$slurmd_pid" 2> /dev/null || { cat "$tmp/slurmd.out"; fail "slurmd exited"; }
  past_deadline && fail "the node is not idle: $(sinfo -N 2>&1)"
  sleep 0.2
done
say "one-node Slurm $(sinfo -V | awk '{print $2}') (node $host, $(grep -o 'CPUs=[0-9]*' <<< "$node"), ports $port-$((port + 1)))"
sinfo -N -o '%N %T %c %m %P'

# ---- helpers ----
# wait_jobs ID...: until none is pending or running; 2 when one waits for a dependency that can
# never be met (a shard failed), 1 past the deadline
wait_jobs() {
  local ids q
  ids="$(IFS=,; echo "$*")"
  while :; do
    q="$(squeue -h -j "$ids" -o '%i %T %r' 2> /dev/null)"
    [ -z "$q" ] && return 0
    grep -q DependencyNeverSatisfied <<< "$q" && return 2
    past_deadline && { echo "$q"; return 1; }
    sleep 0.3
  done
}
states() { squeue -h -t all -j "$(IFS=,; echo "$*")" -o '%i %j %T %r'; }
show_states() {  # what squeue says of the jobs (and sacct, where accounting is on)
  squeue -t all -j "$(IFS=,; echo "$*")" -o '%.10i %.22j %.10T %.24r'
}
table_of() { awk 'f && !/^wrote /; /^$/ { f = 1 }' "$1"; }  # the table: after the first blank line
same_results() {  # LABEL DIR_OF_MERGE TABLE_FILE SINGLE_DIR
  local label="$1" out="$2" table="$3" single="$4" p
  table_of "$table" > "$table.only"
  table_of "$single/stdout" > "$single/stdout.only"
  grep -q 'validation %' "$single/stdout.only" || fail "no table in the single-process sweep's output ($single/stdout)"
  diff "$single/stdout.only" "$table.only" > "$table.diff" ||
    { echo "--- single process (<) against $label (>):"; cat "$table.diff"; fail "$label: the merged table differs from the single-process sweep's"; }
  for p in heatmap.png curves.png; do
    cmp -s "$single/out/$p" "$out/$p" || fail "$label: $p differs from the single-process sweep's"
  done
  echo "$label: the merged table, heatmap.png and curves.png equal the single-process sweep's"
}
single() {  # DIR GRID...: the same grid in one process
  local dir="$1"; shift
  mkdir -p "$dir"
  "$bin" sweep "$@" --threads 2 --out "$dir/out" > "$dir/stdout" 2>&1 || { cat "$dir/stdout"; fail "the single-process sweep failed"; }
}
submit() {  # DIR [submit-sweep options...] -- GRID...: submits; sets array_job and merge_job
  local dir="$1"; shift
  "$src/scripts/slurm/submit-sweep" --shards 3 --cap 2 --cpus 1 --binary "$bin" --data "$data" \
    --logs "$dir/logs" --out "$dir/out" "$@" > "$dir.submit" 2>&1 || { cat "$dir.submit"; fail "submit-sweep failed"; }
  cat "$dir.submit"
  array_job="$(sed -n 's/^array job \([0-9][0-9]*\):.*/\1/p' "$dir.submit")"
  merge_job="$(sed -n 's/^merge job \([0-9][0-9]*\):.*/\1/p' "$dir.submit")"
  [ -n "$array_job" ] && [ -n "$merge_job" ] || fail "no job IDs in submit-sweep's output"
  jobs_submitted+=("$array_job" "$merge_job")
}
all_completed() {  # ID...: every job and array task COMPLETED
  local s
  s="$(states "$@")"
  [ -n "$s" ] && ! awk '$3 != "COMPLETED"' <<< "$s" | grep -q .
}

w="$tmp/work"
cd "$w" || fail "no $w"
# 4 networks, 1 epoch on 2,000 images: seconds. Shard I of 3 holds networks k with k mod 3 = I-1.
grid=(--layers 784,10,10 --eta 1,3 --seeds 1-2 --epochs 1 --train-size 2000 --validation-size 1000)

# ---- 1. Slurm: the array and the merge job ----
say "Slurm: scripts/slurm/submit-sweep --shards 3 --cap 2 --cpus 1 -- ${grid[*]}"
submit "$w/slurm" -- "${grid[@]}"
throttle="$(scontrol show job "$array_job" 2> /dev/null | grep -o 'ArrayTaskThrottle=[0-9]*' | sort -u)"
[ "$throttle" = ArrayTaskThrottle=2 ] || fail "the array's cap on tasks at once is not 2: '$throttle'"
wait_jobs "$array_job" "$merge_job"
rc=$?
show_states "$array_job" "$merge_job"
[ "$rc" = 0 ] || { cat "$w"/slurm/logs/*.out 2> /dev/null; fail "the jobs did not finish (wait: $rc)"; }
all_completed "$array_job" "$merge_job" || { cat "$w"/slurm/logs/*.out; fail "a job or array task did not complete (states above)"; }
echo "--- the merge job's table ($w/slurm/out/table.txt):"
cat "$w/slurm/out/table.txt"
single "$w/single" "${grid[@]}"
same_results "Slurm" "$w/slurm/out" "$w/slurm/out/table.txt" "$w/single"

# ---- 2. GNU parallel with local job slots (docs/sweeps.md, without -S) ----
say "GNU parallel -j2: shards 1-3, then --merge"
mkdir -p "$w/parallel" && cd "$w/parallel" || fail "no $w/parallel"
parallel --will-cite -j2 "$bin" sweep "${grid[@]}" --threads 1 --shard {}/3 --log sweep-{}.jsonl ::: 1 2 3 > parallel.out 2>&1 ||
  { cat parallel.out; fail "parallel: a shard failed"; }
"$bin" sweep --merge sweep-1.jsonl sweep-2.jsonl sweep-3.jsonl --out out > table.txt 2>&1 || { cat table.txt; fail "parallel: --merge failed"; }
cat table.txt
same_results "GNU parallel" "$w/parallel/out" "$w/parallel/table.txt" "$w/single"
cd "$w" || fail "no $w"

# ---- 3. A shard that dies, and its rerun ----
# Long enough that shard 1 (networks 0 and 3, one after the other) is still training when its
# first epoch's record is in the log and the task is cancelled.
epochs="${SLURM_TEST_KILL_EPOCHS:-150}"
kgrid=(--layers 784,10,10 --eta 1,3 --seeds 1-2 --epochs "$epochs" --train-size 2000 --validation-size 1000)
say "a shard that dies: the same grid, $epochs epochs; array task 1 cancelled while it trains"
submit "$w/kill" -- "${kgrid[@]}"
log1="$w/kill/logs/sweep-1.jsonl"
until [ -s "$log1" ]; do
  past_deadline && fail "shard 1 wrote no record"
  sleep 0.05
done
scancel "${array_job}_1" || fail "scancel ${array_job}_1 failed"
wait_jobs "$array_job"
rc=$?
[ "$rc" = 0 ] || fail "the array did not end (wait: $rc)"
until [ "$(squeue -h -j "$merge_job" -o %r)" = DependencyNeverSatisfied ]; do  # the next scheduling pass
  past_deadline && { show_states "$array_job" "$merge_job"; fail "the merge job is not held back by the failed shard"; }
  sleep 0.3
done
show_states "$array_job" "$merge_job"
[ "$(states "${array_job}_1" | awk '{print $3}')" = CANCELLED ] ||
  fail "array task 1 was not cancelled while training (it finished first? raise SLURM_TEST_KILL_EPOCHS)"
for t in 2 3; do
  [ "$(states "${array_job}_$t" | awk '{print $3}')" = COMPLETED ] || fail "array task $t did not complete"
done
records="$(wc -l < "$log1")"
echo "shard 1's log: $records of its $((2 * epochs)) records (2 networks x $epochs epochs)"
[ "$records" -lt $((2 * epochs)) ] || fail "shard 1's log is complete: it was not interrupted"
echo "--- merge.sbatch over the three logs, as the merge job would run it:"
SWEEP_SHARDS=3 SWEEP_LOGS="$w/kill/logs" SWEEP_OUT="$w/kill/refused" BACKPROP_BINARY="$bin" \
  bash "$src/scripts/slurm/merge.sbatch" > "$w/kill/refused.out" 2>&1
rc=$?
cat "$w/kill/refused.out"
[ "$rc" != 0 ] || fail "merge.sbatch accepted a sweep with an interrupted shard"
[ ! -e "$w/kill/refused/table.txt" ] || fail "merge.sbatch left a table.txt after refusing"
# --merge names the shard, its log, the network cut off and those never started (network k is in
# shard k mod 3 + 1), and what to run.
grep -q "shard 1/3 ($log1)" "$w/kill/refused.out" || fail "--merge's refusal does not name shard 1/3 and its log"
grep -q -- "--continue" "$w/kill/refused.out" || fail "--merge's refusal does not say to rerun with --continue"
echo "(exit $rc: refused, naming shard 1/3 and its log)"
scancel "$merge_job"

say "rerun of the one index: submit-sweep --only 1"
submit "$w/kill" --only 1 -- "${kgrid[@]}"
wait_jobs "$array_job" "$merge_job"
rc=$?
show_states "$array_job" "$merge_job"
[ "$rc" = 0 ] || { cat "$w"/kill/logs/*.out; fail "the rerun did not finish (wait: $rc)"; }
all_completed "$array_job" "$merge_job" || { cat "$w"/kill/logs/*.out; fail "the rerun did not complete"; }
grep -h "continuing:" "$w"/kill/logs/*.out || fail "the rerun of index 1 did not continue its log"
cat "$w/kill/out/table.txt"
single "$w/single-kill" "${kgrid[@]}"
same_results "Slurm after the rerun" "$w/kill/out" "$w/kill/out/table.txt" "$w/single-kill"

echo
echo "slurm.sweep passed in ${SECONDS} s"
