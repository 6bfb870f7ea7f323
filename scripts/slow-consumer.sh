#!/usr/bin/env bash
# A room at 1,000 msg/s, with and without subscribers that never read: the
# node should cut the slow ones off past their outgoing budget
# (--max-client-buffer-bytes) while the others keep their delivery latency.
# The node runs pinned to core 0, the load generator to core 1, on loopback.
#
#   scripts/slow-consumer.sh [--subscribers N] [--slow N] [--rate R] [--size B] [--duration S]
#
# Prints one line per run (p50/p99/max latency of the normal subscribers,
# loss, slow consumers cut) and writes the JSON reports to target/slow-consumer/.
set -euo pipefail
cd "$(dirname "$0")/.."

subscribers=100 slow=10 rate=1000 size=1000 duration=30
while [[ $# -gt 0 ]]; do
  case "$1" in
    --subscribers) subscribers=$2; shift 2 ;;
    --slow) slow=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

target="${CARGO_TARGET_DIR:-target}"
cargo build --release --locked -p switchyard -p switchyard-loadtest >&2
results="$target/slow-consumer"
mkdir -p "$results"
port=3950

run() {
  local slow_n=$1 out="$results/slow-$1.json"
  taskset -c 0 "$target/release/switchyard" --port "$port" >"$results/node-$1.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
    sleep 0.05
  done
  taskset -c 1 "$target/release/switchyard-loadtest" --url "http://127.0.0.1:$port" \
    --server-pid "$pid" --json fanout --subscribers "$subscribers" --rate "$rate" \
    --size "$size" --duration "$duration" --slow-consumers "$slow_n" >"$out"
  local refused
  refused=$(curl -s "http://127.0.0.1:$port/metrics" | sed -n 's/^switchyard_refused_total{reason="client_buffer"} //p')
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1]));
    const l = r.latency_us;
    console.log(`slow consumers ${r.slow_consumers} (cut ${r.slow_consumers_cut}, refusals counted ${process.argv[2] || 0}): ` +
      `${r.subscribers} subscribers, ${r.delivered}/${r.expected} delivered, lost ${r.lost}, ` +
      `p50 ${(l.p50 / 1000).toFixed(2)} ms, p99 ${(l.p99 / 1000).toFixed(2)} ms, max ${(l.max / 1000).toFixed(2)} ms`);
  ' "$out" "$refused"
}

run 0
run "$slow"
