#!/usr/bin/env bash
# Makes sure Redis (6379), NATS with JetStream (4222) and RabbitMQ (5672)
# answer on 127.0.0.1: installs each with apt-get if it is missing, starts
# it if it is not listening, and waits until it answers. Idempotent.
set -euo pipefail

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() { # name seconds check-command...
  local name=$1 seconds=$2; shift 2
  for ((i = 0; i < seconds * 5; i++)); do
    if "$@" >/dev/null 2>&1; then echo "$name is up"; return 0; fi
    sleep 0.2
  done
  echo "$name did not answer within ${seconds}s" >&2
  return 1
}

install() { # command package
  if ! command -v "$1" >/dev/null; then
    echo "installing $2 with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2"
  fi
}

nats_answers() { timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/4222; head -c 4 <&3' | grep -q INFO; }

# Redis: nothing kept on disk.
if ! listening 6379; then
  install redis-server redis-server
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
wait_for redis 30 bash -c 'redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG'

# NATS with JetStream.
if ! listening 4222; then
  install nats-server nats-server
  mkdir -p /var/lib/nats-server
  nohup nats-server -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server >/var/log/nats-server.log 2>&1 &
  disown || true
fi
wait_for nats 30 nats_answers

# RabbitMQ (slow to start: up to a minute on a busy machine).
if ! listening 5672; then
  install rabbitmq-server rabbitmq-server
  rabbitmq-server -detached
fi
wait_for rabbitmq 120 rabbitmqctl -q await_startup
