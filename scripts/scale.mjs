#!/usr/bin/env node
// Scale: NODES Switchyard nodes over one broker, CLIENTS idle WebSocket
// clients spread over them (each in one of ROOMS rooms, a room's members
// on one node) by `switchyard-loadtest fanout --workers`, one worker
// process per ~16,000 clients (a process here opens about 20,000 files)
// with source addresses over 127.0.0.1-64. Then, for DURATION seconds, a
// broadcast to everyone ALL_RATE times a second and RATE room broadcasts a
// second spread over the rooms. Reported: delivery p50/p99/max and loss
// (from the load tester), each node's RSS and CPU (/proc), the broker's
// CPU. Exits 1 on any loss. BENCHMARKS.md, "100,000 connections".
//
//   node scripts/scale.mjs [--adapter redis|nats|amqp] [--nodes 6]
//        [--clients 100000] [--rooms 100] [--rate 10] [--all-rate 1]
//        [--duration 60] [--connect-rate 2000] [--drain 15] [--recovery on|off]
//        [--per-worker 16000]
import { execFileSync, spawn } from "node:child_process";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { randomBytes } from "node:crypto";
import { Node } from "../e2e/rolling/harness.mjs";
import { binaries, freePort } from "../e2e/helpers.mjs";
import { cpuSeconds, metricSum, metrics, rssKiB } from "./node-stats.mjs";

const { values: opt } = parseArgs({
  options: {
    adapter: { type: "string", default: "redis" },
    nodes: { type: "string", default: "6" },
    clients: { type: "string", default: "100000" },
    rooms: { type: "string", default: "100" },
    rate: { type: "string", default: "10" },
    "all-rate": { type: "string", default: "1" },
    duration: { type: "string", default: "60" },
    "connect-rate": { type: "string", default: "2000" },
    drain: { type: "string", default: "15" },
    recovery: { type: "string", default: "on" },
    "per-worker": { type: "string", default: "16000" },
  },
});
const PER_PROCESS = Number(opt["per-worker"]);
const nodeCount = Number(opt.nodes);
const clients = Number(opt.clients);
if (clients / nodeCount > 18000) {
  console.error(`${clients} clients over ${nodeCount} nodes is more than a process here may open: add nodes`);
  process.exit(2);
}
const loadtest = path.join(path.dirname(binaries.node), "switchyard-loadtest");
process.env.RUST_LOG ??= "warn";

const rssMiB = (pid) => rssKiB(pid) / 1024;
const BROKER_PROCESS = { redis: "redis-server", nats: "nats-server", amqp: "beam.smp" };
function brokerPids() {
  try {
    return execFileSync("pidof", [BROKER_PROCESS[opt.adapter]], { encoding: "utf8" }).trim().split(/\s+/).map(Number);
  } catch {
    return [];
  }
}
const brokerCpu = (pids) => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);

const sockets = async (node) => metricSum(await metrics(node), "switchyard_sockets");

const prefix = `scale-${randomBytes(4).toString("hex")}`;
const nodes = [];
// Warnings of the nodes (RUST_LOG=warn) go to stderr, prefixed by node.
for (let i = 0; i < nodeCount; i++) nodes.push(new Node(i, await freePort(), { adapter: opt.adapter, prefix, log: true, recovery: opt.recovery !== "off" }));
let code = 1;
try {
  await Promise.all(nodes.map((n) => n.start()));
  const idle = nodes.map((n) => rssMiB(n.child.pid));
  const workers = Math.ceil(clients / PER_PROCESS);
  const args = [
    ...nodes.flatMap((n) => ["--url", n.url]), "--json", "--max-loss", "0", "--source-addresses", "64",
    "fanout", "--workers", String(workers), "--subscribers", String(clients), "--rooms", opt.rooms,
    "--rate", opt.rate, "--all-rate", opt["all-rate"], "--duration", opt.duration,
    "--connect-rate", opt["connect-rate"], "--drain", opt.drain,
  ];
  console.error(`scale over ${opt.adapter}: ${nodeCount} nodes, ${clients} clients in ${opt.rooms} rooms, ${workers} load-test workers`);
  const started = performance.now();
  const run = spawn(loadtest, args, { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  run.stdout.on("data", (d) => (out += d));
  const exited = new Promise((resolve) => run.on("exit", resolve));
  let done = false;
  exited.then(() => (done = true));

  // Connected: every client is a socket somewhere; publishing starts then.
  let connectedAt = null;
  let before = null;
  const peak = nodes.map(() => 0);
  while (!done) {
    nodes.forEach((n, i) => (peak[i] = Math.max(peak[i], rssMiB(n.child.pid))));
    if (!connectedAt) {
      const total = (await Promise.all(nodes.map(sockets))).reduce((a, b) => a + b, 0);
      if (total >= clients) {
        connectedAt = performance.now();
        before = {
          rss: nodes.map((n) => rssMiB(n.child.pid)),
          cpu: nodes.map((n) => cpuSeconds(n.child.pid)),
          broker: brokerCpu(brokerPids()),
        };
        console.error(`${clients} connected in ${((connectedAt - started) / 1000).toFixed(1)} s`);
      }
    }
    await sleep(1000);
  }
  const exit = await exited;
  // What each node counted: cluster messages taken by kind, broker trouble,
  // refusals (stderr; for reading a loss).
  const WATCH = /^switchyard_(cluster_messages_received_total|broker_lost_incoming_total|broker_publish_failures_total|cluster_skipped_messages_total|refused_total|broadcasts_total|volatile_dropped_total)/;
  for (const n of nodes) {
    const text = await metrics(n);
    const counts = text.split("\n").filter((line) => WATCH.test(line) && !line.endsWith(" 0"));
    console.error(`n${n.index}: ${counts.map((l) => l.replace("switchyard_", "")).join(", ")}`);
  }
  const report = JSON.parse(out);
  if (report.lost) console.error(`missed: room messages ${JSON.stringify(report.missing)}, to everyone ${JSON.stringify(report.missing_to_all)}`);
  const window = Number(opt.duration);
  const cpu = before ? nodes.map((n, i) => (100 * (cpuSeconds(n.child.pid) - before.cpu[i])) / window) : [];
  const broker = before ? (100 * (brokerCpu(brokerPids()) - before.broker)) / window : NaN;
  const lat = report.latency_us;
  const ms = (us) => (us / 1000).toFixed(1);
  const fmt = (xs) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;
  console.log(
    `| ${opt.adapter} | ${nodeCount} | ${report.subscribers}${report.connect_failures ? ` (${report.connect_failures} failed)` : ""} | ` +
      `${report.published} + ${report.published_to_all} to all | ${report.delivered}/${report.expected} | ${report.lost} | ` +
      `${ms(lat.p50)} / ${ms(lat.p99)} / ${ms(lat.max)} ms | ${fmt(idle)} → ${before ? fmt(before.rss) : "?"} → ${fmt(peak)} MiB | ` +
      `${cpu.length ? fmt(cpu) : "?"} % | ${broker.toFixed(0)} % |`,
  );
  code = exit === 0 && report.lost === 0 && report.connect_failures === 0 ? 0 : 1;
} finally {
  await Promise.all(nodes.map((n) => n.child?.exitCode === null && n.stop()));
}
process.exit(code);
