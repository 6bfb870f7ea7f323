#!/usr/bin/env bash
# The soak (issue 14): three nodes over one broker with connection state
# recovery, and 5,000 clients connecting, joining rooms, publishing, reading
# and leaving (clean closes, TCP resets, clients that vanish) for DURATION
# seconds; every node's RSS, open files, tasks, sessions, sockets, rooms,
# pending acks and recovery entries sampled every 10 s; exits 1 unless each
# comes back once the clients are gone, and the broker holds nothing left
# over. Builds the release binaries unless SWITCHYARD_BIN is set (then the
# load tester is taken from the same directory). BENCHMARKS.md, "Soak".
#
#   scripts/soak.sh [--adapter redis|nats|amqp] [--duration SECONDS] [--clients N]
#                   [--warmup SECONDS] [--rooms N] [--hold SECONDS] [--window SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
args=(--adapter redis --duration 600)
args=("${args[@]}" "$@")
if [[ -z "${SWITCHYARD_BIN:-}" ]]; then
  cargo build --release --bin switchyard -p switchyard --bin switchyard-loadtest -p switchyard-loadtest >&2
  export SWITCHYARD_BIN="${CARGO_TARGET_DIR:-target}/release/switchyard"
fi
scripts/services.sh >/dev/null
# Sessions and ports for thousands of clients: more open files than the default.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
exec node scripts/soak.mjs "${args[@]}"
