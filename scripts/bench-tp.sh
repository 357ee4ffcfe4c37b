#!/usr/bin/env bash
# CPU decode speed of the `bench` demo preset with 1 and 2 shm ranks side by side (one core each), and the time rank 0
# spends in collectives per step (its "sharded steps:" log line). Not a test: run it on a quiet machine.
#   scripts/bench-tp.sh [OUTPUT_TOKENS] [PROMPTS]      defaults: 64 tokens, 4 prompts, one at a time
# Env: BENCH_DIR (the checkpoint; written on first use, ~2.8 GB), TP_SIZES (default "1 2"), TP_FLAGS (extra serve
# flags, e.g. --enable-expert-parallel), CORES (cores to pin to, default "0 1": rank r gets CORES[r]).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TOKENS=${1:-64}
PROMPTS=${2:-4}
DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/peregrine-bench-tp}
read -r -a CORE <<<"${CORES:-0 1}"
[ -f "$DIR/config.json" ] || ./peregrine init-demo "$DIR" --preset bench
OUT=$(mktemp -d)
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); checkpoint $DIR; $PROMPTS prompts x $TOKENS tokens, one at a time"
for tp in ${TP_SIZES:-1 2}; do
  cpus=$(IFS=,; echo "${CORE[*]:0:$tp}")
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  log="$OUT/serve-tp$tp.log"
  # every rank one compute thread; the ranks (rank 0 and its worker children) pinned to one core each
  taskset -c "$cpus" ./peregrine serve --model "$DIR" --port "$port" --threads 1 --tensor-parallel-size "$tp" \
      ${TP_FLAGS:-} --no-vision --no-web-ui --kv-cache-memory 256MiB --max-model-len 4096 >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break
    kill -0 $pid 2>/dev/null || { echo "serve -tp $tp exited:"; tail -20 "$log"; exit 1; }
    sleep 1
  done
  # a warm-up request, then the measured ones
  ./peregrine bench --base-url "http://127.0.0.1:$port" --num-prompts 1 --max-concurrency 1 --random-input-len 32 \
      --random-output-len 16 --ignore-eos --no-check-metrics >/dev/null 2>&1 || true
  ./peregrine bench --base-url "http://127.0.0.1:$port" --num-prompts "$PROMPTS" --max-concurrency 1 \
      --random-input-len 32 --random-output-len "$TOKENS" --ignore-eos --no-check-metrics >"$OUT/bench-tp$tp.txt" 2>&1
  kill -TERM $pid; wait $pid 2>/dev/null || true
  tpot=$(grep "Time per output token" "$OUT/bench-tp$tp.txt" | awk '{print $5}')
  echo "tp=$tp (cores $cpus): decode $(awk -v t="$tpot" 'BEGIN {printf "%.2f", 1000 / t}') tokens/s (mean TPOT $tpot ms)"
  grep -h "sharded steps:" "$log" | sed 's/^.*sharded steps:/  rank 0 log: sharded steps:/' | tail -3 || true
done
echo "logs: $OUT"
