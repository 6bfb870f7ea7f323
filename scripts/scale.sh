#!/usr/bin/env bash
# Scale (issue 16): NODES nodes over one broker, TOTAL idle WebSocket
# clients (default 6 × ~17,000 = 100,000) from several load-test worker
# processes, then a broadcast to everyone once a second and 10 msg/s to 100
# rooms of 1,000 for 60 s: delivery p50/p99/max, loss, RSS and CPU per node,
# broker CPU, as one Markdown row. Exits non-zero on any loss. Builds the
# release binaries unless SWITCHYARD_BIN is set. BENCHMARKS.md,
# "100,000 connections"; the kernel settings it needs are in the README.
#
#   scripts/scale.sh [--nodes N] [--clients TOTAL] [--adapter redis|nats|amqp]
#                    [--rooms N] [--rate MSGS] [--all-rate MSGS] [--duration SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${SWITCHYARD_BIN:-}" ]]; then
  cargo build --release --bin switchyard -p switchyard --bin switchyard-loadtest -p switchyard-loadtest >&2
  export SWITCHYARD_BIN="${CARGO_TARGET_DIR:-target}/release/switchyard"
fi
scripts/services.sh >/dev/null
# One process opens at most the hard limit (about 20,000 here): each node
# and each load-test worker stays under it.
ulimit -n "$(ulimit -Hn)"
# Source ports: 64 source addresses × the ephemeral range per node.
if [[ -w /proc/sys/net/ipv4/ip_local_port_range ]]; then
  read -r low high < /proc/sys/net/ipv4/ip_local_port_range
  if (( high - low < 28000 )); then echo "1024 65000" > /proc/sys/net/ipv4/ip_local_port_range; fi
fi
exec node scripts/scale.mjs "$@"
