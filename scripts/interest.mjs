#!/usr/bin/env node
// Interest routing, measured: N nodes over one broker, ROOMS rooms whose
// members are each on one node (room k on node k mod N), and a fixed total
// rate of room broadcasts, each published through the node after the one
// serving its room (`switchyard-loadtest fanout --rooms`). For every node it
// reports what it took from its broker while publishing: cluster messages
// (its own `switchyard_cluster_messages_received_total`, broadcasts and all
// kinds), bytes (the kernel's `bytes_received` of its sockets to the broker,
// from `ss`), and for NATS the server's own count (`/connz` out_msgs). With
// interest routing a node's share stays flat (its own rooms) as N grows;
// without it (Node's Redis format: one pattern subscription) it grows with
// the cluster. Exits 1 on any loss, and with --check when a node of an
// interest-routed setup took more than its rooms' share (10 % and 10
// messages of slack). BENCHMARKS.md, "Interest routing".
//
//   node scripts/interest.mjs [--setups redis-node,redis,redis-node-sharded,nats,amqp]
//        [--nodes 1,2,4,6] [--rooms 1000] [--rate 500] [--duration 10] [--drain 2]
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { parseArgs } from "node:util";
import { Node } from "../e2e/rolling/harness.mjs";
import { binaries, freePort } from "../e2e/helpers.mjs";
import { natsServer } from "./nats-server.mjs";
import { metricSum, metrics } from "./node-stats.mjs";

const { values: opt } = parseArgs({
  options: {
    setups: { type: "string", default: "redis-node,redis,redis-node-sharded,nats,amqp" },
    nodes: { type: "string", default: "1,2,4,6" },
    rooms: { type: "string", default: "1000" },
    rate: { type: "string", default: "500" },
    duration: { type: "string", default: "10" },
    drain: { type: "string", default: "2" },
    check: { type: "boolean", default: false },
  },
});
const loadtest = path.join(path.dirname(binaries.node), "switchyard-loadtest");
process.env.RUST_LOG ??= "warn";

/** Each setup: the adapter, its flags, and the broker port its sockets reach. */
const SETUPS = {
  "redis-node": { adapter: "redis", args: ["--redis-format", "node"], port: 6379, label: "Redis, Node's format", everyone: true },
  redis: { adapter: "redis", args: ["--redis-format", "switchyard"], port: 6379, label: "Redis, Switchyard's format" },
  "redis-node-sharded": {
    adapter: "redis", args: ["--redis-format", "node", "--redis-sharded"], port: 6379, label: "Redis, Node's sharded format",
  },
  nats: { adapter: "nats", args: [], port: null, label: "NATS" },
  amqp: { adapter: "amqp", args: [], port: 5672, label: "RabbitMQ" },
};

/** Bytes each process received on its sockets to `port`, by pid. */
function bytesFromBroker(port) {
  const out = execFileSync("ss", ["-tinpH", "state", "established", `dport = :${port}`], { encoding: "utf8" });
  const byPid = new Map();
  const lines = out.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const pid = /pid=(\d+)/.exec(lines[i])?.[1];
    if (!pid) continue;
    const received = Number(/bytes_received:(\d+)/.exec(lines[i + 1] ?? "")?.[1] ?? 0);
    byPid.set(Number(pid), (byPid.get(Number(pid)) ?? 0) + received);
  }
  return byPid;
}

/** What a node's /metrics says it took from the broker. */
async function received(node) {
  const text = await metrics(node);
  const name = "switchyard_cluster_messages_received_total";
  return {
    all: metricSum(text, name),
    // kind="broadcast" and kind="recoverable_broadcast"
    broadcasts: metricSum(text, name, (line) => line.includes('broadcast"')),
  };
}

async function natsOut(nats) {
  const connz = await (await fetch(`${nats.monitor}/connz?limit=1024`)).json();
  return new Map((connz.connections ?? []).map((c) => [c.name, { msgs: c.out_msgs, bytes: c.out_bytes }]));
}

async function sample(nodes, setup, nats) {
  const bytes = bytesFromBroker(setup.port);
  const server = nats ? await natsOut(nats) : null;
  return Promise.all(
    nodes.map(async (n) => ({
      ...(await received(n)),
      bytes: bytes.get(n.child.pid) ?? 0,
      server: server?.get(`n${n.index}`)?.msgs ?? null,
    })),
  );
}

async function measure(name, count) {
  const setup = SETUPS[name];
  const nats = setup.adapter === "nats" ? await natsServer() : null;
  const port = nats ? Number(new URL(nats.url).port) : setup.port;
  const brokerArgs = nats ? ["--nats-url", nats.url] : [];
  const prefix = `interest-${randomBytes(4).toString("hex")}`;
  const nodes = [];
  for (let i = 0; i < count; i++) {
    nodes.push(new Node(i, await freePort(), { adapter: setup.adapter, prefix, extraArgs: [...setup.args, ...brokerArgs] }));
  }
  try {
    await Promise.all(nodes.map((n) => n.start()));
    const args = [
      ...nodes.flatMap((n) => ["--url", n.url]), "--json", "--max-loss", "0",
      "fanout", "--subscribers", opt.rooms, "--rooms", opt.rooms, "--rate", opt.rate,
      "--duration", opt.duration, "--connect-rate", "500", "--drain", opt.drain,
    ];
    // Counted over the whole run: connects and joins take nothing from the
    // broker; heartbeats (every node's, each second) are in "all".
    const before = await sample(nodes, { ...setup, port }, nats);
    let out;
    try {
      out = execFileSync(loadtest, args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    } catch (e) {
      // Exit 1 is a loss (the report is still printed); anything else is not a run.
      if (e.status !== 1 || !e.stdout) throw e;
      out = e.stdout;
    }
    const report = JSON.parse(out);
    const after = await sample(nodes, { ...setup, port }, nats);
    const perNode = after.map((a, i) => ({
      broadcasts: a.broadcasts - before[i].broadcasts,
      all: a.all - before[i].all,
      bytes: a.bytes - before[i].bytes,
      server: a.server === null ? null : a.server - before[i].server,
    }));
    return { report, perNode };
  } finally {
    await Promise.all(nodes.map((n) => n.child.exitCode === null && n.stop()));
    nats?.stop();
  }
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
let lossy = false;
console.log(
  `interest routing: ${opt.rooms} rooms, members each on one node, ${opt.rate} room broadcasts/s for ${opt.duration} s (${Number(opt.rate) * Number(opt.duration)} in all)`,
);
console.log("| broker | nodes | per node: broadcasts taken (mean / max) | all nodes: broadcasts taken | all cluster messages per node (mean) | bytes from broker per node (mean / max) | broker's count per node (mean) | delivered | lost | p50 / p99 |");
console.log("|---|---|---|---|---|---|---|---|---|---|");
for (const name of opt.setups.split(",")) {
  for (const count of opt.nodes.split(",").map(Number)) {
    const { report, perNode } = await measure(name, count);
    const b = perNode.map((p) => p.broadcasts);
    const bytes = perNode.map((p) => p.bytes);
    const server = perNode.every((p) => p.server !== null) ? Math.round(mean(perNode.map((p) => p.server))) : "–";
    if (report.lost > 0 || report.connect_failures > 0) lossy = true;
    // Node k serves rooms k, k + N, …: its share of the broadcasts.
    const rooms = Number(opt.rooms);
    const share = (k) => Math.ceil((rooms - k) / count) / rooms * report.published;
    const over = perNode.findIndex((p, k) => !SETUPS[name].everyone && p.broadcasts > share(k) * 1.1 + 10);
    if (opt.check && over >= 0) {
      console.error(`${SETUPS[name].label}, ${count} nodes: node ${over} took ${perNode[over].broadcasts} broadcasts, its rooms' share is ${share(over)}`);
      lossy = true;
    }
    console.log(
      `| ${SETUPS[name].label} | ${count} | ${Math.round(mean(b))} / ${Math.max(...b)} | ${b.reduce((x, y) => x + y, 0)} | ${Math.round(mean(perNode.map((p) => p.all)))} | ${(mean(bytes) / 1024).toFixed(0)} KiB / ${(Math.max(...bytes) / 1024).toFixed(0)} KiB | ${server} | ${report.delivered}/${report.expected} | ${report.lost} | ${(report.latency_us.p50 / 1000).toFixed(1)} / ${(report.latency_us.p99 / 1000).toFixed(1)} ms |`,
    );
  }
}
process.exit(lossy ? 1 : 0);
