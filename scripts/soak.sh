#!/usr/bin/env bash
# Soak test: serve the demo checkpoint (or attach to a server already on loopback), drive it with rounds of
# mixed load with faults (`peregrine bench`), sample memory while it runs, and report errors, latency
# percentiles, RSS and heap over time, and leaked requests / KV blocks. Bounded in time (--duration) and in
# count (--max-rounds x --requests-per-round); loopback only.
#
#   scripts/soak.sh [--duration S] [--grace S] [--max-rounds N] [--requests-per-round N] [--port P]
#                   [--out DIR] [--sample-interval S] [--ready-timeout S] [--attach [--pid PID]] [-- SERVE_ARGS...]
#
# No round starts after --duration; the round in progress then gets --grace seconds (default 300) to finish
# before it is killed and counted as failed.
#
# Exit status: 0 PASS; 1 FAIL (unexpected request failures, a round that did not return to idle, a leak at the
# end, or the server died); 2 bad arguments or missing tools.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEREGRINE="$ROOT/peregrine"

DURATION=300
GRACE=300
MAX_ROUNDS=200
PER_ROUND=100
PORT=18000
OUT=""
SAMPLE_INTERVAL=5
READY_TIMEOUT=900
ATTACH=0
PID=""
INPUT_LEN="${SOAK_INPUT_LEN:-128}"
OUTPUT_LEN="${SOAK_OUTPUT_LEN:-32}"
SERVE_ARGS=()

die() { echo "soak: $*" >&2; exit 2; }
posint() { [[ "$2" =~ ^[0-9]+$ ]] && [ "$2" -ge 1 ] || die "$1 must be a positive integer, got '$2'"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --duration) posint "$1" "${2:-}"; DURATION="$2"; shift 2 ;;
    --grace) posint "$1" "${2:-}"; GRACE="$2"; shift 2 ;;
    --max-rounds) posint "$1" "${2:-}"; MAX_ROUNDS="$2"; shift 2 ;;
    --requests-per-round) posint "$1" "${2:-}"; PER_ROUND="$2"; shift 2 ;;
    --port) posint "$1" "${2:-}"; PORT="$2"; shift 2 ;;
    --out) OUT="${2:?--out needs a directory}"; shift 2 ;;
    --sample-interval) posint "$1" "${2:-}"; SAMPLE_INTERVAL="$2"; shift 2 ;;
    --ready-timeout) posint "$1" "${2:-}"; READY_TIMEOUT="$2"; shift 2 ;;
    --attach) ATTACH=1; shift ;;
    --pid) posint "$1" "${2:-}"; PID="$2"; shift 2 ;;
    --) shift; SERVE_ARGS=("$@"); break ;;
    -h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
# Hard caps so a typo cannot turn a soak into a day-long or unbounded run.
[ "$DURATION" -le 86400 ] || die "--duration is capped at 86400 s (24 h)"
[ "$GRACE" -le 3600 ] || die "--grace is capped at 3600 s"
[ "$PER_ROUND" -le 10000 ] || die "--requests-per-round is capped at 10000"
for a in "${SERVE_ARGS[@]}"; do
  case "$a" in --host|--host=*) die "the soak binds 127.0.0.1 only; do not pass --host" ;; esac
done
command -v curl >/dev/null || die "curl is needed (apt-get install curl)"

BASE="http://127.0.0.1:$PORT"
OUT="${OUT:-$ROOT/target/soak-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$OUT"
AUTH=()
[ -n "${PEREGRINE_API_KEY:-}" ] && AUTH=(-H "Authorization: Bearer $PEREGRINE_API_KEY")
log() { echo "soak [$(date -u +%H:%M:%S)] $*" | tee -a "$OUT/soak.log" >&2; }

SERVER_PID=""
SAMPLER_PID=""
cleanup() {
  local rc=$?   # the script's own verdict; nothing here may change it
  [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null || true
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    log "stopping the server (pid $SERVER_PID, SIGTERM drains it)"
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 1; done
    kill -0 "$SERVER_PID" 2>/dev/null && { log "server still up after 60 s; SIGKILL"; kill -KILL "$SERVER_PID" || true; }
  fi
  return "$rc"
}
trap cleanup EXIT

metrics() { curl -sf --max-time 10 "${AUTH[@]}" "$BASE/metrics"; }
# Sum of a metric's samples (all label sets) in Prometheus text on stdin; empty when absent.
metric_sum() { awk -v n="$1" 'index($0, n) == 1 { r = substr($0, length(n) + 1)
    if (r ~ /^\{/) { sub(/^\{.*\}/, "", r) } else if (r !~ /^ /) next
    split(r, f, " "); s += f[1]; seen = 1 } END { if (seen) printf "%.6g\n", s }'; }
heap_bytes() { awk '/^jvm_memory_used_bytes\{/ && /area="heap"/ { s += $NF } END { if (s) printf "%d\n", s }'; }

if [ "$ATTACH" = 1 ]; then
  log "attaching to $BASE${PID:+ (pid $PID)}"
else
  "$PEREGRINE" --version >/dev/null   # builds first if stale, so the serve pid below is the JVM's
  log "starting: peregrine serve --host 127.0.0.1 --port $PORT ${SERVE_ARGS[*]:-} (log: $OUT/server.log)"
  "$PEREGRINE" serve --host 127.0.0.1 --port "$PORT" "${SERVE_ARGS[@]}" >"$OUT/server.log" 2>&1 &
  SERVER_PID=$!
  PID="$SERVER_PID"
fi

log "waiting up to ${READY_TIMEOUT}s for $BASE/ready"
deadline=$((SECONDS + READY_TIMEOUT))
until curl -sf --max-time 5 "${AUTH[@]}" "$BASE/ready" >/dev/null 2>&1; do
  if [ -n "$SERVER_PID" ] && ! kill -0 "$SERVER_PID" 2>/dev/null; then
    log "FAIL: the server exited before it was ready; last lines of $OUT/server.log:"
    tail -n 20 "$OUT/server.log" >&2
    SERVER_PID=""
    exit 1
  fi
  [ "$SECONDS" -lt "$deadline" ] || { log "FAIL: not ready after ${READY_TIMEOUT}s"; exit 1; }
  sleep 2
done
BASELINE="$(metrics)" || { log "FAIL: cannot read $BASE/metrics"; exit 1; }
KV0="$(metric_sum vllm:kv_cache_usage_perc <<<"$BASELINE")"
[ -n "$KV0" ] || { log "FAIL: /metrics has no vllm:kv_cache_usage_perc"; exit 1; }
log "ready; KV usage before load: $KV0"

# Memory over time: RSS from /proc (the whole process: heap, metaspace, mapped weights, native buffers) and
# heap from the server's own JVM metrics, plus the load the server reports.
printf "elapsed_s\trss_mib\theap_mib\trunning\twaiting\tkv_usage\n" >"$OUT/memory.tsv"
(
  start=$SECONDS
  while true; do
    rss=""
    [ -n "$PID" ] && [ -r "/proc/$PID/status" ] && rss="$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$PID/status")"
    m="$(metrics 2>/dev/null || true)"
    heap="$(heap_bytes <<<"$m")"
    printf "%d\t%s\t%s\t%s\t%s\t%s\n" $((SECONDS - start)) "${rss:--}" \
      "$( [ -n "$heap" ] && awk -v b="$heap" 'BEGIN { printf "%.1f", b / 1048576 }' || echo -)" \
      "$(metric_sum vllm:num_requests_running <<<"$m")" "$(metric_sum vllm:num_requests_waiting <<<"$m")" \
      "$(metric_sum vllm:kv_cache_usage_perc <<<"$m")" >>"$OUT/memory.tsv"
    sleep "$SAMPLE_INTERVAL"
  done
) &
SAMPLER_PID=$!

# Three alternating profiles: streamed chat under fixed concurrency with every fault kind, non-streamed
# completions at a Poisson rate with disconnects and broken requests, and clean streamed chat for latency.
profile() {
  case $(( $1 % 3 )) in
    0) echo "chat-faults --endpoint chat --max-concurrency 16 --disconnect-rate 0.2 --malformed-rate 0.05 --slow-reader-rate 0.05 --slow-reader-pause 3" ;;
    1) echo "completions-rate --endpoint completions --no-stream --request-rate 8 --max-concurrency 32 --disconnect-rate 0.1 --malformed-rate 0.1" ;;
    2) echo "chat-clean --endpoint chat --max-concurrency 4" ;;
  esac
}

printf "round\tprofile\texit\tcompleted\tfailed\tunexpected_faults\tttft_p50_ms\tttft_p99_ms\titl_p50_ms\titl_p99_ms\te2el_p50_ms\te2el_p99_ms\tout_tok_s\tidle\n" >"$OUT/rounds.tsv"
row_value() { awk -v k="$1" 'index($0, k ":") == 1 { sub(/^[^:]*: */, ""); print; exit }' "$2"; }
# Columns of a latency row: name... mean median p90 p99 std.
lat() { awk -v k="$1" -v c="$2" 'index($0, k) == 1 { print $(NF - 5 + c); exit }' "$3"; }

SOAK_END=$((SECONDS + DURATION))
FAILED_ROUNDS=0
round=0
while [ "$round" -lt "$MAX_ROUNDS" ] && [ "$SECONDS" -lt "$SOAK_END" ]; do
  if [ -n "$SERVER_PID" ] && ! kill -0 "$SERVER_PID" 2>/dev/null; then
    log "FAIL: the server died during the soak; see $OUT/server.log"; SERVER_PID=""; FAILED_ROUNDS=$((FAILED_ROUNDS + 1)); break
  fi
  read -r name args <<<"$(profile "$round")"
  left=$((SOAK_END - SECONDS))
  table="$OUT/round-$round.txt"
  set +e
  # The round's own time bound: what is left of the soak, the grace, and the idle check's 30 s.
  # shellcheck disable=SC2086
  timeout --signal=TERM $((left + GRACE + 30)) "$PEREGRINE" bench --base-url "$BASE" $args --num-prompts "$PER_ROUND" \
    --seed "$round" --random-input-len "$INPUT_LEN" --random-output-len "$OUTPUT_LEN" --random-range-ratio 0.5 \
    --request-timeout "$((left + GRACE))" --check-metrics --idle-timeout 30 --progress-interval 10 \
    --result-json "$OUT/round-$round.json" >"$table" 2>"$OUT/round-$round.err"
  code=$?
  set -e
  unexpected=$(awk -F'/' '/\(sent \/ unexpected\):/ { s += $NF } END { print s + 0 }' "$table")
  idle="$(row_value Result "$table" | cut -c1-60)"
  printf "%d\t%s\t%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$round" "$name" "$code" \
    "$(row_value 'Successful requests' "$table")" "$(row_value 'Failed requests' "$table")" "$unexpected" \
    "$(lat 'Time to first token' 2 "$table")" "$(lat 'Time to first token' 4 "$table")" \
    "$(lat 'Inter-token latency' 2 "$table")" "$(lat 'Inter-token latency' 4 "$table")" \
    "$(lat 'End-to-end latency' 2 "$table")" "$(lat 'End-to-end latency' 4 "$table")" \
    "$(row_value 'Output token throughput (tok/s)' "$table")" "${idle:-?}" >>"$OUT/rounds.tsv"
  failed="$(row_value 'Failed requests' "$table")"
  if [ "$code" -ne 0 ] || [ "${failed:-1}" != 0 ] || [ "$unexpected" -ne 0 ]; then
    FAILED_ROUNDS=$((FAILED_ROUNDS + 1))
    log "round $round ($name): exit $code, failed ${failed:-?}, unexpected faults $unexpected; see $table and ${table%.txt}.err"
  else
    log "round $round ($name): ok"
  fi
  round=$((round + 1))
done

kill "$SAMPLER_PID" 2>/dev/null || true; SAMPLER_PID=""
# Leaks: after the last round's own idle check, the server must still show nothing running or waiting and KV
# usage back at its pre-load level. A KV usage above it is blocks that no request owns.
FINAL="$(metrics || true)"
RUN_END="$(metric_sum vllm:num_requests_running <<<"$FINAL")"
WAIT_END="$(metric_sum vllm:num_requests_waiting <<<"$FINAL")"
KV_END="$(metric_sum vllm:kv_cache_usage_perc <<<"$FINAL")"
LEAK=0
awk -v a="${RUN_END:-1}" -v b="${WAIT_END:-1}" -v k="${KV_END:-1}" -v k0="$KV0" \
  'BEGIN { exit !(a == 0 && b == 0 && k <= k0 + 1e-9) }' || LEAK=1

{
  echo "================ Soak summary ================"
  echo "server:            $BASE${PID:+ (pid $PID)}"
  echo "rounds:            $round (limit $MAX_ROUNDS), ${PER_ROUND} requests each, ${DURATION}s budget + ${GRACE}s grace"
  echo "failed rounds:     $FAILED_ROUNDS"
  echo
  echo "-- per round (latencies in ms) --"
  column -t -s $'\t' "$OUT/rounds.tsv" 2>/dev/null || cat "$OUT/rounds.tsv"
  echo
  echo "-- memory over time (every sample in $OUT/memory.tsv) --"
  # At most ~30 rows: every k-th sample plus the last.
  n=$(($(wc -l <"$OUT/memory.tsv") - 1))
  k=$(( n > 30 ? (n + 29) / 30 : 1 ))
  awk -v k="$k" -v n="$n" 'NR == 1 || (NR - 2) % k == 0 || NR == n + 1' "$OUT/memory.tsv" | column -t -s $'\t' 2>/dev/null \
    || cat "$OUT/memory.tsv"
  awk -F'\t' 'NR > 1 && $2 != "-" { if (!f) f = $2; l = $2; if ($2 > m) m = $2 }
    NR > 1 && $3 != "-" { if (!fh) fh = $3; lh = $3; if ($3 > mh) mh = $3 }
    END { printf "RSS MiB first/last/max: %s / %s / %s;  heap MiB first/last/max: %s / %s / %s\n", f, l, m, fh, lh, mh }' \
    "$OUT/memory.tsv"
  echo
  echo "-- leaks at the end --"
  echo "running=${RUN_END:-?} waiting=${WAIT_END:-?} kv_cache_usage=${KV_END:-?} (before load: $KV0)"
  if [ "$LEAK" = 1 ]; then echo "LEAK: requests or KV blocks were not released"; fi
  if [ "$FAILED_ROUNDS" -eq 0 ] && [ "$LEAK" = 0 ]; then echo "RESULT: PASS"; else echo "RESULT: FAIL"; fi
  echo "files: $OUT"
} | tee "$OUT/summary.txt"

[ "$FAILED_ROUNDS" -eq 0 ] && [ "$LEAK" = 0 ]
