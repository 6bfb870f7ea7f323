// A rolling deploy, as an operator runs one: three nodes behind HAProxy in
// plain round-robin (deploy/haproxy-roundrobin.cfg, /readyz checks), official
// clients in one room (polling, then upgraded), a publisher with sequence
// numbers, and each node restarted in turn (SIGTERM, wait for the exit,
// start again, wait, next) — or killed with SIGKILL. Shared by
// e2e/rolling-restart.test.mjs (assertions) and scripts/rolling-restart.mjs
// (the table in BENCHMARKS.md).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { io } from "socket.io-client";
import { binaries, freePort, startBalancer } from "../helpers.mjs";

/** A node on a fixed port, restartable on that port. */
export class Node {
  constructor(index, port, { adapter, prefix, extraArgs = [], log = false, recovery = true }) {
    Object.assign(this, { index, port, adapter, prefix, extraArgs, log, recovery });
    this.url = `http://127.0.0.1:${port}`;
    this.child = null;
    this.output = "";
  }

  async start() {
    const args = [
      "--port", String(this.port), "--adapter", this.adapter, "--prefix", this.prefix,
      "--node-id", `n${this.index}`, ...(this.recovery ? ["--recovery"] : []), "--heartbeat-interval", "1000",
      "--heartbeat-timeout", "3000", ...this.extraArgs,
    ];
    this.child = spawn(binaries.node, args, {
      // Connections and recoveries at debug: a failed run shows why.
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "info,switchyard_core::client=debug" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    this.child.stderr.on("data", (d) => {
      this.output += d;
      if (this.log) process.stderr.write(`[n${this.index}] ${d}`);
    });
    this.exited = new Promise((resolve) => this.child.on("exit", (code, signal) => resolve({ code, signal })));
    for (let i = 0; ; i++) {
      if (i > 300) throw new Error(`node ${this.index} not ready: ${this.output.slice(-2000)}`);
      const status = await fetch(`${this.url}/readyz`).then((r) => r.status).catch(() => 0);
      if (status === 200) return;
      await sleep(50);
    }
  }

  /** Stops the node; resolves with how long it took to exit, in ms. */
  async stop(signal = "SIGTERM") {
    const started = performance.now();
    this.child.kill(signal);
    await this.exited;
    return performance.now() - started;
  }
}

/** Three nodes over `adapter` behind HAProxy round-robin. */
export async function deployment(adapter, { log = !!process.env.ROLLING_LOG } = {}) {
  const prefix = `roll-${randomBytes(4).toString("hex")}`;
  const nodes = [];
  for (let i = 0; i < 3; i++) nodes.push(new Node(i, await freePort(), { adapter, prefix, log }));
  await Promise.all(nodes.map((n) => n.start()));
  const lb = await startBalancer("haproxy", "haproxy-roundrobin.cfg", nodes);
  return {
    nodes,
    lb,
    async stop() {
      await lb.stop();
      await Promise.all(nodes.map((n) => n.child.exitCode === null && n.child.signalCode === null && n.stop()));
    },
  };
}

/** An official client in room `room`, recording every delivery and (re)connection. */
function subscriber(url, room) {
  const socket = io(url, { forceNew: true, reconnectionDelayMax: 2000 });
  const record = { socket, received: [], times: [], connects: [], upgrades: [], joined: false };
  // Transport upgrades, shown with a loss under ROLLING_DEBUG.
  socket.io.on("open", () => socket.io.engine.once("upgrade", () => record.upgrades.push(performance.now())));
  socket.on("connect", async () => {
    record.connects.push({ recovered: socket.recovered, at: performance.now(), id: socket.id });
    if (record.connects.length > 1 && !socket.recovered && process.env.ROLLING_DEBUG) {
      console.error(`not recovered: was ${record.connects.at(-2).id}, now ${socket.id}`);
    }
    if (!record.joined || !socket.recovered) {
      // A fresh session must join again (a recovered one has its rooms).
      await socket.timeout(5000).emitWithAck("join", room).catch(() => {});
      record.joined = true;
    }
  });
  socket.on("msg", (payload) => {
    record.received.push(payload.s);
    record.times.push(performance.now());
  });
  return record;
}

/**
 * Runs the scenario: `clients` subscribers and a publisher at `rate`
 * msg/s through the load balancer, then `disrupt(deployment)` (restarts),
 * then a quiet period. Returns what every client saw.
 */
export async function run(dep, { clients = 60, rate = 50, disrupt, settle = 3000 } = {}) {
  const room = "rolling";
  const subs = Array.from({ length: clients }, () => subscriber(dep.lb.url, room));
  await waitFor(() => subs.every((s) => s.joined && s.socket.connected), 20000, "subscribers connected");
  const publisher = io(dep.lb.url, { forceNew: true, reconnectionDelayMax: 2000 });
  await waitFor(() => publisher.connected, 10000, "publisher connected");
  let seq = 0;
  let publishing = true;
  const published = (async () => {
    const every = 1000 / rate;
    const start = performance.now();
    while (publishing) {
      publisher.emit("publish", { room, payload: { s: seq++ } });
      const next = start + seq * every;
      await sleep(Math.max(0, next - performance.now()));
    }
  })();
  await sleep(1000);
  const disruption = await disrupt(dep);
  await sleep(settle);
  publishing = false;
  await published;
  // Late deliveries (replays, the last live packets).
  const union = () => new Set(subs.flatMap((s) => s.received));
  let last = -1;
  for (let i = 0; i < 100; i++) {
    const size = union().size;
    if (size === last && subs.every((s) => s.received.length >= size)) break;
    last = size;
    await sleep(100);
  }
  publisher.close();
  const result = summarize(subs, seq, disruption);
  for (const s of subs) s.socket.close();
  if (result.lost || result.notRecovered || result.duplicated || result.reordered) {
    result.diagnostics = diagnose(subs, dep.nodes);
  }
  return result;
}

/**
 * What went wrong for each client that lost a packet or a session: its
 * connections, the packets around the first gap, and what the nodes logged
 * about the sockets and connections of each session it was not given back.
 */
function diagnose(subs, nodes) {
  const logs = nodes.flatMap((n) => n.output.split("\n").map((line) => `[n${n.index}] ${line}`));
  const about = (needle) => logs.filter((line) => line.includes(needle));
  const lines = [];
  for (const s of subs) {
    const seen = new Set(s.received);
    const union = [...new Set(subs.flatMap((x) => x.received))].sort((a, b) => a - b);
    const missing = union.filter((n) => !seen.has(n));
    const fresh = s.connects.slice(1).filter((c) => !c.recovered);
    if (!missing.length && !fresh.length) continue;
    const ids = s.connects.map((c) => `${c.id}${c.recovered ? "+" : ""}@${Math.round(c.at)}`).join(" ");
    lines.push(`client ${s.connects[0]?.id}: missing ${missing.length} (first ${missing.slice(0, 5)}); connects ${ids}; upgrades ${s.upgrades.map(Math.round).join(" ")}`);
    for (const c of fresh) {
      // The engine session the fresh socket came on, then what was said about it.
      const connected = about(`sid=${c.id} `).find((line) => line.includes("socket connected"));
      const engine = connected?.match(/engine=(\S+)/)?.[1];
      lines.push(...(engine ? about(`engine=${engine}`) : [`no log of ${c.id}`]));
      const previous = s.connects[s.connects.indexOf(c) - 1];
      if (previous) lines.push(...about(`sid=${previous.id}`).slice(-6));
    }
  }
  return [...new Set(lines)].slice(0, 60);
}

async function waitFor(check, ms, what) {
  const end = performance.now() + ms;
  while (!check()) {
    if (performance.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(50);
  }
}

/** What the clients saw, against the union of what any of them received. */
function summarize(subs, published, disruption) {
  const union = [...new Set(subs.flatMap((s) => s.received))].sort((a, b) => a - b);
  let lost = 0;
  let duplicated = 0;
  let reordered = 0;
  let longestGap = 0;
  let reconnections = 0;
  let notRecovered = 0;
  for (const s of subs) {
    const seen = new Set();
    let previous = -1;
    for (const n of s.received) {
      if (seen.has(n)) duplicated++;
      else if (n < previous) reordered++;
      seen.add(n);
      previous = Math.max(previous, n);
    }
    const missing = union.filter((n) => !seen.has(n));
    lost += missing.length;
    if (missing.length && process.env.ROLLING_DEBUG) {
      const around = (n) => s.received.slice(Math.max(0, s.received.indexOf(n - 1) - 2), s.received.indexOf(n - 1) + 4);
      const before = s.received.indexOf(missing[0] - 1);
      const times = `${Math.round(s.times[before])}..${Math.round(s.times[before + 1])}`;
      console.error(`missing ${missing.slice(0, 10)} (${missing.length}); ids ${s.connects.map((c) => `${c.id}${c.recovered ? "+" : ""}@${Math.round(c.at)}`).join(" ")}; upgrades ${s.upgrades.map(Math.round).join(" ")}; around: ${around(missing[0])} received at ${times}`);
    }
    for (let i = 1; i < s.times.length; i++) longestGap = Math.max(longestGap, s.times[i] - s.times[i - 1]);
    reconnections += s.connects.length - 1;
    notRecovered += s.connects.slice(1).filter((c) => !c.recovered).length;
  }
  return {
    clients: subs.length,
    connectedAtEnd: subs.filter((s) => s.socket.connected).length,
    published,
    delivered: union.length,
    lost,
    duplicated,
    reordered,
    reconnections,
    notRecovered,
    longestGapMs: Math.round(longestGap),
    ...disruption,
  };
}

/** Restarts each node in turn: SIGTERM, exit, start again, then `pause`. */
export function rollingRestart({ pause = 3000 } = {}) {
  return async (dep) => {
    const shutdownMs = [];
    for (const node of dep.nodes) {
      shutdownMs.push(Math.round(await node.stop("SIGTERM")));
      await node.start();
      await sleep(pause);
    }
    return { shutdownMs };
  };
}

/** Kills one node with SIGKILL and starts it again. */
export function killOne({ index = 0, pause = 3000 } = {}) {
  return async (dep) => {
    await dep.nodes[index].stop("SIGKILL");
    await dep.nodes[index].start();
    await sleep(pause);
    return { killed: index };
  };
}
