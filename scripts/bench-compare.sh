#!/usr/bin/env bash
# Side-by-side load tests of Switchyard, Node.js Socket.IO 4.8 (npm, default
# settings) and socketioxide 0.18 (crates.io, its own cargo project in
# benches/compare/socketioxide), all serving the bench contract on loopback.
# Each server runs pinned to core 0 (taskset), the load generator to core 1;
# servers are alternated within each round, and rounds are repeated. The
# table (medians over the rounds) goes into BENCHMARKS.md between the
# bench-compare markers; raw JSON reports stay in the results folder.
#
#   scripts/bench-compare.sh [--repeat N] [--servers "switchyard node socketioxide"]
#                            [--scenarios "floor connect echo fanout50 fanout200 coalesce cluster scale"]
#                            [--duration S] [--clients N] [--results DIR] [--no-write] [--keep]
#
# --keep reruns the chosen scenarios into an existing results folder, keeping
# the reports of the others, so the table can be refreshed one scenario at a time.
#
# Durations are bounded: the defaults take about ten minutes on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."

repeat=2 duration=10 idle_clients=10000
servers="switchyard node socketioxide"
scenarios="floor connect echo fanout50 fanout200 coalesce cluster scale"
results=target/bench-compare write=1 keep=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --repeat) repeat=$2; shift 2 ;;
    --servers) servers=$2; shift 2 ;;
    --scenarios) scenarios=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --clients) idle_clients=$2; shift 2 ;;
    --results) results=$2; shift 2 ;;
    --no-write) write=0; shift ;;
    --keep) keep=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

step() { printf '\n==> %s\n' "$*" >&2; }
target="${CARGO_TARGET_DIR:-target}"
loadtest="$target/release/switchyard-loadtest"
port=3900

step "build (release): switchyard, switchyard-loadtest, the socketioxide server"
cargo build --release --locked -p switchyard -p switchyard-loadtest >&2
if [[ " $servers " == *" socketioxide "* ]]; then
  CARGO_TARGET_DIR="$target/compare" cargo build --release \
    --manifest-path benches/compare/socketioxide/Cargo.toml >&2
fi
if ! cmp -s package-lock.json node_modules/.installed-lock.json 2>/dev/null; then
  npm ci --no-audit --no-fund --loglevel=error >&2
  cp package-lock.json node_modules/.installed-lock.json
fi
[[ $keep == 1 ]] || rm -rf "$results"
mkdir -p "$results"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs) × $(nproc)"
  echo "kernel: $(uname -r)"
  echo "rustc: $(rustc --version)"
  echo "node: $(node --version), socket.io $(node -p 'JSON.parse(require("fs").readFileSync("node_modules/socket.io/package.json")).version')"
  echo "socketioxide: $(grep -A1 'name = "socketioxide"' benches/compare/socketioxide/Cargo.lock | sed -n 's/version = "\(.*\)"/\1/p')"
} >"$results/machine.txt"

server_pid=""
start_server() { # name [extra switchyard flags...]
  local name=$1; shift
  local cmd
  if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
    echo "port $port is already taken: stop what listens there first" >&2; return 1
  fi
  case "$name" in
    switchyard) cmd=("$target/release/switchyard" --port "$port" "$@") ;;
    node) cmd=(node benches/compare/node-server.mjs) ;;
    socketioxide) cmd=("$target/compare/release/socketioxide-bench-server") ;;
  esac
  # taskset execs the server: $! is the server's own pid.
  PORT=$port taskset -c 0 "${cmd[@]}" >"$results/$name.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    kill -0 "$server_pid" 2>/dev/null || break
    curl -s -o /dev/null "http://127.0.0.1:$port/socket.io/?EIO=4&transport=polling" && return 0
    sleep 0.1
  done
  echo "$name did not start" >&2; cat "$results/$name.log" >&2; return 1
}
stop_server() {
  [[ -n "$server_pid" ]] || return 0
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  sleep 1 # let the loopback connections close
}
trap stop_server EXIT

# run <file> <loadtest args...>: one report; a failed run is kept as its error.
run() {
  local file=$1; shift
  if ! taskset -c 1 "$loadtest" --json "$@" >"$results/$file.json" 2>"$results/$file.err"; then
    # The report is still printed when loss exceeds --max-loss.
    [[ -s "$results/$file.json" ]] || echo '{"error": "run failed"}' >"$results/$file.json"
  fi
}

against() { # scenario server round <loadtest scenario args...>
  local scenario=$1 server=$2 round=$3; shift 3
  step "$scenario · $server · round $round"
  start_server "$server"
  run "$scenario.$server.$round" --url "http://127.0.0.1:$port" --server-pid "$server_pid" "$@"
  stop_server
}

for round in $(seq "$repeat"); do
  for scenario in $scenarios; do
    case "$scenario" in
      floor)
        step "floor · round $round"
        taskset -c 0,1 "$loadtest" --json floor --mode write --duration 5 >"$results/floor-write.loadtest.$round.json"
        taskset -c 0,1 "$loadtest" --json floor --mode echo --duration 5 >"$results/floor-echo.loadtest.$round.json"
        for rate in 50 200; do
          case " $scenarios " in *" fanout$rate "*)
            taskset -c 0,1 "$loadtest" --json floor --mode write --rate "$rate" --duration "$duration" \
              >"$results/floor-write$rate.loadtest.$round.json" ;;
          esac
        done
        ;;
      connect)
        for s in $servers; do
          against connect "$s" "$round" connect --clients "$idle_clients" --rate 2000 --hold 5
        done ;;
      echo)
        for s in $servers; do
          against echo "$s" "$round" echo --clients 100 --duration "$duration"
        done ;;
      fanout50 | fanout200)
        rate=${scenario#fanout}
        for s in $servers; do
          against "$scenario" "$s" "$round" --max-loss 1 fanout --subscribers 1000 \
            --rate "$rate" --size 100 --duration "$duration"
        done ;;
      coalesce)
        # Switchyard only: write coalescing past the rate where delay 0 saturates.
        for delay in 0 1 5; do
          for rate in 400 800; do
            step "coalesce · delay ${delay} ms · ${rate}/s · round $round"
            start_server switchyard --write-delay-ms "$delay"
            run "coalesce-$delay-$rate.switchyard.$round" --url "http://127.0.0.1:$port" \
              --server-pid "$server_pid" --max-loss 1 fanout --subscribers 1000 --rate "$rate" \
              --size 100 --duration "$duration"
            stop_server
          done
        done ;;
      cluster)
        # Switchyard only: two nodes (core 0) through each broker, load on core 1.
        for adapter in redis nats amqp; do
          step "cluster · $adapter · round $round"
          taskset -c 0 scripts/cluster.sh --nodes 2 --adapter "$adapter" --base-port 3910 -- \
            bash -c 'taskset -c 1 "$0" --json $NODE_URL_ARGS $NODE_PID_ARGS --max-loss 1 fanout --subscribers 1000 --rate 200 --size 100 --duration "$1"' \
            "$loadtest" "$duration" >"$results/cluster-$adapter.switchyard.$round.json" 2>"$results/cluster-$adapter.err" || true
        done ;;
      scale)
        # Switchyard only, once: as many idle clients as one process may hold here.
        if [[ $round == 1 ]]; then
          limit=$(ulimit -Hn)
          max=$(( limit > 100500 ? 100000 : limit - 500 ))
          ulimit -n "$limit"
          against scale switchyard 1 --source-addresses 4 connect --clients "$max" --rate 4000 --hold 5
        fi ;;
      *) echo "unknown scenario $scenario" >&2; exit 2 ;;
    esac
  done
done

step "table"
node benches/compare/table.mjs "$results" >"$results/table.md"
cat "$results/table.md"
if [[ $write == 1 ]]; then
  node benches/compare/table.mjs --splice BENCHMARKS.md "$results/table.md"
  echo "BENCHMARKS.md updated" >&2
fi
