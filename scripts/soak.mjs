#!/usr/bin/env node
// The soak: three nodes over one broker with connection state recovery, and
// `switchyard-loadtest churn` connecting clients that join rooms, publish,
// read, and leave — cleanly, by TCP reset, or by vanishing — for DURATION
// seconds. Every SAMPLE seconds each node's RSS, open files, tokio tasks,
// sessions, sockets, rooms, pending acks, pending cluster requests and
// recovery entries are read (/proc and /metrics). Once every client is gone
// and the recovery window has passed, each must be back: RSS within 10 % of
// its post-warm-up value, open files within 10 % of idle, the rest at their
// idle values; and the broker must hold nothing of ours beyond what the live
// nodes held at idle (Redis channels and keys, NATS subscriptions and
// JetStream messages, RabbitMQ bindings). Exits 1 when something did not
// come back. BENCHMARKS.md, "Soak".
//
//   node scripts/soak.mjs [--adapter redis|nats|amqp] [--duration 600]
//        [--clients 5000] [--warmup 120] [--sample 10] [--rooms 200] [--hold 30]
//        [--window 30]
import { execFileSync, spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { Node } from "../e2e/rolling/harness.mjs";
import { binaries, freePort } from "../e2e/helpers.mjs";
import { natsServer } from "./nats-server.mjs";
import { metricSum, metrics, rssKiB } from "./node-stats.mjs";

const { values: opt } = parseArgs({
  options: {
    adapter: { type: "string", default: "redis" },
    duration: { type: "string", default: "600" },
    clients: { type: "string", default: "5000" },
    warmup: { type: "string", default: "120" },
    sample: { type: "string", default: "10" },
    rooms: { type: "string", default: "200" },
    hold: { type: "string", default: "30" },
    window: { type: "string", default: "30" },
    "polling-share": { type: "string", default: "0.1" },
  },
});
const duration = Number(opt.duration);
const sampleEvery = Number(opt.sample) * 1000;
const warmup = Math.min(Number(opt.warmup), duration / 2) * 1000;
// The recovery window (kept sessions and packets end within the run), and
// short ping timeouts (vanished clients are found out within seconds).
const WINDOW_MS = Number(opt.window) * 1000;
const PING = ["--ping-interval", "3000", "--ping-timeout", "3000"];
const loadtest = path.join(path.dirname(binaries.node), "switchyard-loadtest");
process.env.RUST_LOG ??= "warn";

// ---- the broker: what it holds of ours ------------------------------------

function run(cmd, args) {
  return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
}

/** What the broker holds for `prefix`: names to compare, counts to report. */
async function brokerState(adapter, prefix, nats) {
  if (adapter === "redis") {
    const channels = run("redis-cli", ["PUBSUB", "CHANNELS", `${prefix}*`]).split("\n").filter(Boolean).sort();
    const shard = run("redis-cli", ["PUBSUB", "SHARDCHANNELS", `${prefix}*`]).split("\n").filter(Boolean).sort();
    const keys = run("redis-cli", ["--scan", "--pattern", `${prefix}*`]).split("\n").filter(Boolean).sort();
    return { subscriptions: [...channels, ...shard], data: keys };
  }
  if (adapter === "nats") {
    const connz = await (await fetch(`${nats.monitor}/connz?subs=1&limit=1024`)).json();
    const subscriptions = (connz.connections ?? [])
      .flatMap((c) => c.subscriptions_list ?? [])
      .filter((s) => !s.startsWith("_INBOX") && !s.startsWith("$JS"))
      .sort();
    const jsz = await (await fetch(`${nats.monitor}/jsz?streams=true`)).json();
    const data = (jsz.account_details ?? [])
      .flatMap((a) => a.stream_detail ?? [])
      .filter((s) => s.state.messages > 0)
      .map((s) => `${s.name}: ${s.state.messages} messages`);
    return { subscriptions, data };
  }
  const bindings = run("rabbitmqctl", ["-q", "list_bindings", "source_name", "routing_key"])
    .split("\n")
    .filter((line) => line.startsWith(prefix))
    .sort();
  return { subscriptions: bindings, data: [] };
}

// ---- the nodes: what each holds --------------------------------------------

const GAUGES = {
  tasks: "switchyard_tokio_tasks",
  sessions: "switchyard_sessions",
  sockets: "switchyard_sockets",
  rooms: "switchyard_rooms",
  acks: "switchyard_pending_acks",
  requests: "switchyard_cluster_pending_requests",
  recovery: "switchyard_recovery_entries",
};

async function sampleNode(node) {
  const pid = node.child.pid;
  const rss = rssKiB(pid);
  const fds = readdirSync(`/proc/${pid}/fd`).length;
  const text = await metrics(node);
  const sample = { rss, fds };
  for (const [key, name] of Object.entries(GAUGES)) sample[key] = metricSum(text, name);
  return sample;
}

const sampleAll = (nodes) => Promise.all(nodes.map(sampleNode));

/** Waits until every client is gone and the recovery window since `ended` passed. */
async function settle(nodes, ended) {
  for (let i = 0; i < 120; i++) {
    const s = await sampleAll(nodes);
    if (s.every((n) => n.sessions === 0 && n.sockets === 0)) break;
    await sleep(500);
  }
  await sleep(Math.max(0, ended + WINDOW_MS + 3000 - performance.now()));
}

function row(t, node, s) {
  return [
    String(t).padStart(5), `n${node}`, (s.rss / 1024).toFixed(1).padStart(7), String(s.fds).padStart(6),
    ...Object.keys(GAUGES).map((k) => String(s[k]).padStart(8)),
  ].join(" ");
}
const HEADER = ["    t", "node", "RSS MiB", "   fds", ...Object.keys(GAUGES).map((k) => k.padStart(8))].join(" ");

// ---- the run ---------------------------------------------------------------

const prefix = `soak-${process.pid}`;
const nats = opt.adapter === "nats" ? await natsServer() : null;
const brokerArgs = nats ? ["--nats-url", nats.url] : [];
const nodes = [];
for (let i = 0; i < 3; i++) {
  nodes.push(
    new Node(i, await freePort(), {
      adapter: opt.adapter,
      prefix,
      extraArgs: ["--recovery-max-disconnection", String(WINDOW_MS), ...PING, ...brokerArgs],
    }),
  );
}
let failed = [];
try {
  await Promise.all(nodes.map((n) => n.start()));
  // Idle is a node that served clients before: the first ones start the
  // engine's three timer tasks (connect timeouts, pings, and pong timeouts
  // once a client stayed past a ping interval), which live as long as the
  // node; they are not leaks.
  const primer = [
    ...nodes.flatMap((n) => ["--url", n.url]), "--max-loss", "1", "--polling-share", "0.3",
    "churn", "--concurrency", "30", "--duration", "8", "--rooms", "3", "--hold", "5",
    "--endings", "clean,reset,vanish", "--vanish-for", "1",
  ];
  execFileSync(loadtest, primer, { stdio: "ignore" });
  await settle(nodes, performance.now());
  const idle = await sampleAll(nodes);
  const brokerIdle = await brokerState(opt.adapter, prefix, nats);
  console.log(`soak over ${opt.adapter}: ${opt.clients} clients for ${duration} s, 3 nodes (${nodes.map((n) => n.url).join(" ")})`);
  console.log(HEADER);
  idle.forEach((s, i) => console.log(row("idle", i, s)));

  const args = [
    ...nodes.flatMap((n) => ["--url", n.url]),
    "--json", "--max-loss", "1", "--source-addresses", "16", "--polling-share", opt["polling-share"],
    "churn", "--concurrency", opt.clients, "--duration", String(duration), "--rooms", opt.rooms,
    "--hold", opt.hold, "--endings", "clean,reset,vanish", "--vanish-for", "10",
  ];
  const churn = spawn(loadtest, args, { stdio: ["ignore", "pipe", "inherit"] });
  let report = "";
  churn.stdout.on("data", (d) => (report += d));
  const churnExit = new Promise((resolve) => churn.on("exit", resolve));
  const started = performance.now();
  let warm = null;
  let running = true;
  churnExit.then(() => (running = false));
  while (running) {
    await Promise.race([sleep(sampleEvery), churnExit]);
    if (!running) break;
    const t = Math.round((performance.now() - started) / 1000);
    const samples = await sampleAll(nodes);
    samples.forEach((s, i) => console.log(row(t, i, s)));
    if (!warm && performance.now() - started >= warmup) warm = samples;
  }
  const ended = performance.now();
  const churnReport = JSON.parse(report || "{}");
  console.log(
    `churn: ${churnReport.cycles} cycles (${Math.round(churnReport.cycles_per_sec)}/s), ${churnReport.failures} failed; ` +
      `ended ${churnReport.endings?.[0]} clean / ${churnReport.endings?.[1]} reset / ${churnReport.endings?.[2]} vanished; recovered ${churnReport.recovered} of ${churnReport.recovery_attempts}; ` +
      `${churnReport.messages} room messages`,
  );
  warm ??= idle;

  await settle(nodes, ended);
  const after = await sampleAll(nodes);
  const brokerAfter = await brokerState(opt.adapter, prefix, nats);
  after.forEach((s, i) => console.log(row("after", i, s)));

  after.forEach((s, i) => {
    const check = (ok, what) => ok || failed.push(`n${i}: ${what}`);
    check(s.rss <= warm[i].rss * 1.1, `RSS ${s.rss} KiB > 110 % of ${warm[i].rss} after warm-up`);
    check(s.fds <= Math.max(Math.ceil(idle[i].fds * 1.1), idle[i].fds + 2), `${s.fds} open files, ${idle[i].fds} at idle`);
    for (const key of Object.keys(GAUGES)) {
      check(s[key] <= idle[i][key], `${key} ${s[key]}, ${idle[i][key]} at idle`);
    }
  });
  const extra = brokerAfter.subscriptions.filter((s) => !brokerIdle.subscriptions.includes(s));
  if (extra.length) failed.push(`broker subscriptions left: ${extra.slice(0, 10).join(", ")} (${extra.length})`);
  const data = brokerAfter.data.filter((d) => !brokerIdle.data.includes(d));
  if (data.length) failed.push(`broker data left: ${data.slice(0, 10).join(", ")} (${data.length})`);
  if (!churnReport.cycles) failed.push("the churn did not run");
  console.log(
    `broker: ${brokerIdle.subscriptions.length} subscriptions at idle, ${brokerAfter.subscriptions.length} after; ` +
      `${brokerIdle.data.length} data entries at idle, ${brokerAfter.data.length} after`,
  );
  console.log(
    JSON.stringify({
      adapter: opt.adapter, duration, clients: Number(opt.clients), churn: churnReport,
      idle, warm, after, broker: { idle: brokerIdle, after: brokerAfter }, failed,
    }),
  );
} finally {
  await Promise.all(nodes.map((n) => n.child && n.child.exitCode === null && n.stop()));
  nats?.stop();
}
if (failed.length) {
  console.error(`soak failed:\n  ${failed.join("\n  ")}`);
  process.exit(1);
}
console.log("soak passed: everything came back");
process.exit(0);
