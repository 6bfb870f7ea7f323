#!/usr/bin/env bash
# Runs a cluster of switchyard nodes on loopback, from the built binaries,
# optionally behind a load balancer made from deploy/, then a command
# against it; stops everything when the command ends. The same topology as
# docker-compose.yml, without Docker.
#
#   scripts/cluster.sh [--nodes N] [--adapter memory|redis|nats|amqp]
#                      [--lb none|haproxy|haproxy-roundrobin|nginx] [--lb-port P]
#                      [--base-port P] [--profile debug|release] [-- command ...]
#
# The command sees NODE_URLS (space-separated), NODE_URL_ARGS ("--url
# http://... --url ..."), NODE_PIDS and NODE_PID_ARGS ("--server-pid ...",
# for the load generator), and with a load balancer LB_URL and LB_URL_ARGS.
# Without a command, everything runs until interrupted. Extra node flags go
# in SWITCHYARD_FLAGS.
set -euo pipefail
cd "$(dirname "$0")/.."

nodes=3 adapter=redis base_port=4000 profile=release lb=none lb_port=8080
while [[ $# -gt 0 ]]; do
  case "$1" in
    --nodes) nodes=$2; shift 2 ;;
    --adapter) adapter=$2; shift 2 ;;
    --lb) lb=$2; shift 2 ;;
    --lb-port) lb_port=$2; shift 2 ;;
    --base-port) base_port=$2; shift 2 ;;
    --profile) profile=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

target="${CARGO_TARGET_DIR:-target}/$profile"
bin="$target/switchyard"
[[ -x "$bin" ]] || { echo "build first: cargo build --profile $profile -p switchyard (looked for $bin)" >&2; exit 2; }
[[ "$adapter" == memory ]] || scripts/services.sh >/dev/null
if [[ "$lb" != none && "$lb_port" == 0 ]]; then
  # Any free port (the kernel picks one for a moment).
  lb_port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
fi

prefix="cluster-$$-$RANDOM"
pids=()
workdir=$(mktemp -d)
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$workdir"
}
trap cleanup EXIT INT TERM

urls=()
for ((i = 0; i < nodes; i++)); do
  port=$((base_port + i))
  RUST_LOG="${RUST_LOG:-warn}" "$bin" --port "$port" --adapter "$adapter" --prefix "$prefix" --node-id "n$i" \
    ${SWITCHYARD_FLAGS:-} &
  pids+=($!)
  urls+=("http://127.0.0.1:$port")
done
# Waits until URL answers 200, for at most SECONDS.
answers() { # url seconds
  for ((t = 0; t < $2 * 10; t++)); do
    curl -sf "$1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}
# Ready: each node started and heard where the others listen (a load
# balancer just started counts its servers up before its first health check).
for url in "${urls[@]}"; do
  answers "$url/readyz" 30 || { echo "node at $url did not start or become ready" >&2; exit 1; }
done
echo "cluster of $nodes over $adapter: ${urls[*]}" >&2

export NODE_URLS="${urls[*]}"
NODE_URL_ARGS="" NODE_PIDS="" NODE_PID_ARGS=""
for url in "${urls[@]}"; do NODE_URL_ARGS+="--url $url "; done
for pid in "${pids[@]}"; do NODE_PIDS+="$pid " NODE_PID_ARGS+="--server-pid $pid "; done
export NODE_URL_ARGS NODE_PIDS NODE_PID_ARGS

# A load balancer from deploy/: its listen address and server list rewritten
# for these nodes, nothing else changed.
if [[ "$lb" != none ]]; then
  case "$lb" in
    haproxy) source_cfg=deploy/haproxy.cfg ;;
    haproxy-roundrobin) source_cfg=deploy/haproxy-roundrobin.cfg ;;
    nginx) source_cfg=deploy/nginx.conf ;;
    *) echo "unknown load balancer $lb" >&2; exit 2 ;;
  esac
  config="$workdir/$(basename "$source_cfg")"
  servers=""
  for ((i = 0; i < nodes; i++)); do
    port=$((base_port + i))
    case "$lb" in
      haproxy) servers+="    server node$((i + 1)) 127.0.0.1:$port check cookie node$((i + 1))"$'\n' ;;
      haproxy-roundrobin) servers+="    server node$((i + 1)) 127.0.0.1:$port check"$'\n' ;;
      nginx) servers+="        server 127.0.0.1:$port;"$'\n' ;;
    esac
  done
  awk -v servers="$servers" -v port="$lb_port" '
    /^ *server node[0-9]+ / { next }
    /^ *server node[0-9]+:/ { if (!done) { printf "%s", servers; done = 1 } next }
    { sub(/bind :8080/, "bind 127.0.0.1:" port); sub(/listen 8080;/, "listen 127.0.0.1:" port ";"); print }
    END { if (!done && servers != "" && FILENAME ~ /haproxy/) printf "%s", servers }
  ' "$source_cfg" >"$config"
  if [[ "$lb" == nginx ]]; then
    nginx -c "$config" -p "$workdir" -g "daemon off; pid $workdir/nginx.pid; error_log stderr warn;" &
  else
    haproxy -f "$config" -db &
  fi
  pids+=($!)
  export LB_URL="http://127.0.0.1:$lb_port" LB_URL_ARGS="--url http://127.0.0.1:$lb_port"
  answers "$LB_URL/healthz" 10 || { echo "$lb did not start" >&2; exit 1; }
  echo "$lb in front: $LB_URL" >&2
fi
if [[ $# -gt 0 ]]; then
  "$@"
else
  wait
fi
