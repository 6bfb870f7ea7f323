#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, unit and integration
# tests, and the end-to-end tests that drive the built servers with the
# official socket.io-client and in headless Chromium, against real brokers
# on loopback. Works on a fresh Debian machine: what is missing (Node.js,
# Chromium, HAProxy, nginx, Redis, NATS, RabbitMQ, the npm packages) is
# installed and started first.
#
# Environment: CARGO_TARGET_DIR (where builds go), SKIP_E2E=1 (Rust only).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n==> %s\n' "$*"; }
started=$SECONDS

step "tools"
if ! command -v cargo >/dev/null; then
  echo "cargo is required: install Rust with rustup (https://rustup.rs)" >&2
  exit 1
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "installing Node.js and npm with apt-get"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
fi
if ! command -v chromium >/dev/null; then
  echo "installing Chromium (browser tests) with apt-get"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi
missing=()
command -v haproxy >/dev/null || missing+=(haproxy)
command -v nginx >/dev/null || missing+=(nginx)
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v openssl >/dev/null || missing+=(openssl)
if ((${#missing[@]})); then
  echo "installing ${missing[*]} (load balancer and TLS tests, compose file check) with apt-get"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
cargo --version && node --version && chromium --version && haproxy -v | head -1 && nginx -v

step "npm packages (package-lock.json)"
# A copy of the lock file in node_modules marks a completed install.
if ! cmp -s package-lock.json node_modules/.installed-lock.json 2>/dev/null; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.installed-lock.json
else
  echo "node_modules is up to date"
fi

step "brokers: Redis, NATS (JetStream), RabbitMQ on loopback"
scripts/services.sh

step "format"
cargo fmt --all --check

step "lint"
cargo clippy --workspace --all-targets --locked -- -D warnings
# The fuzzing feature (scripts/fuzz.sh and the regression tests) builds code the
# default features leave out.
cargo clippy -p switchyard-core --features fuzzing --all-targets --locked -- -D warnings

step "layering and size rules (no file over 400 lines, no function over 80, no import circle over 3 files)"
node scripts/structure.mjs

step "unit, integration and doc tests"
cargo test --workspace --locked

step "fuzz regressions (inputs scripts/fuzz.sh found, on stable)"
cargo test --locked -p switchyard-core --features fuzzing --test fuzz_regressions

if [[ "${SKIP_E2E:-}" != "1" ]]; then
  step "build the node and the example servers"
  cargo build --locked -p switchyard --bins --examples
  cargo build --locked -p switchyard-core --examples
  cargo build --locked -p switchyard-redis --examples
  cargo build --locked -p switchyard-loadtest

  step "end-to-end tests (official socket.io-client)"
  node --test --test-concurrency=1 e2e/

  step "load test smoke run: 3 nodes over Redis behind HAProxy round-robin, zero loss"
  target="${CARGO_TARGET_DIR:-target}/debug"
  scripts/cluster.sh --profile debug --adapter redis --lb haproxy-roundrobin --lb-port 0 -- \
    bash -c "$target/switchyard-loadtest \$LB_URL_ARGS \$NODE_PID_ARGS --polling-share 0.2 --max-loss 0 \
      fanout --subscribers 200 --rate 50 --duration 3"

  step "interest routing, short: 2 nodes per broker, each takes only its rooms' broadcasts"
  node scripts/interest.mjs --setups redis,redis-node-sharded,nats,amqp --nodes 2 --rooms 100 \
    --rate 200 --duration 2 --check

  step "scale, short: 3,000 clients on 2 nodes from 2 load-test worker processes, zero loss"
  SWITCHYARD_BIN="$target/switchyard" scripts/scale.sh --adapter redis --nodes 2 --clients 3000 \
    --duration 5 --drain 5 --connect-rate 1000 --per-worker 1500

  step "soak, short: 60 s of churn on 3 nodes over Redis with recovery, nothing left behind"
  SWITCHYARD_BIN="$target/switchyard" scripts/soak.sh --adapter redis --duration 60 --clients 300 \
    --warmup 30 --hold 3 --window 10 | grep -v '^{'

  step "docker-compose.yml is valid"
  docker-compose -f docker-compose.yml config -q
fi

step "all tests passed in $((SECONDS - started)) s"
