#!/usr/bin/env node
// Runs each abuse of the hostile-client suite against a fresh node and prints
// what the node held meanwhile: RSS before, the most seen while the attacker
// was connected, and the peak (VmHWM). The table in BENCHMARKS.md ("Hostile
// clients") comes from here.
//
//   node scripts/hostile-report.mjs [--bin target/release/switchyard] [--only name,name]
import { parseArgs } from "node:util";
import { startServer } from "../e2e/helpers.mjs";
import * as attacks from "../e2e/hostile/attacks.mjs";
import { MB } from "../e2e/hostile/raw.mjs";

const { values } = parseArgs({
  options: {
    bin: { type: "string", default: "target/release/switchyard" },
    only: { type: "string" },
    json: { type: "boolean", default: false },
  },
});

const RUNS = [
  { name: "auth payload, JSON", attack: "authBomb", opts: { parser: "json" } },
  { name: "auth payload, msgpack", attack: "authBomb", opts: { parser: "msgpack" }, env: { PARSER: "msgpack" } },
  { name: "auth payload of 60 KB (under the value budget), JSON", attack: "authBomb", opts: { bytes: 60_000 } },
  { name: "msgpack nested lengths", attack: "msgpackNest", env: { PARSER: "msgpack" } },
  { name: "WebSocket pings, never read", attack: "pingFlood" },
  { name: "1 MB echo acks over polling, never fetched", attack: "pollingEchoBomb" },
  { name: "CONNECT/DISCONNECT churn with presence", attack: "presenceChurn", observe: true },
  { name: "300 KB request heads", attack: "headerBomb" },
  { name: "CONNECTs to unknown namespaces, never read", attack: "unknownNamespaceFlood" },
  { name: "connection flood (300)", attack: "connectionFlood", env: { MAX_CONNECTIONS: "100" } },
];

const only = values.only?.split(",");
const rows = [];
for (const run of RUNS) {
  if (only && !only.includes(run.attack)) continue;
  const server = await startServer(values.bin, {
    env: { RUST_LOG: "error", ...(run.env ?? {}) },
    captureLog: true,
  });
  let observers;
  try {
    if (run.observe) observers = await attacks.observers(server.url, { parser: run.env?.PARSER ?? "json" });
    const result = await attacks.measured(server, () => attacks[run.attack](server, run.opts ?? {}));
    const disconnected = observers?.disconnected() ?? [];
    let fresh = "ok";
    await attacks.freshClientWorks(server.url, { parser: run.env?.PARSER ?? "json" }).catch((e) => (fresh = e.message));
    const alive = server.child.exitCode === null;
    rows.push({
      abuse: run.name,
      sent_mb: result.sent ? (result.sent / MB).toFixed(1) : "",
      rss_before_mb: (result.before / MB).toFixed(1),
      held_mb: ((result.held - result.before) / MB).toFixed(1),
      peak_mb: ((result.peak - result.before) / MB).toFixed(1),
      node: alive ? "up" : "DOWN",
      fresh_client: fresh,
      others_disconnected: disconnected.length,
      details: JSON.stringify(
        Object.fromEntries(Object.entries(result).filter(([k]) => !["held", "before", "peak", "sent"].includes(k))),
      ),
    });
  } catch (e) {
    rows.push({ abuse: run.name, error: String(e?.message ?? e) });
  } finally {
    observers?.close();
    await server.stop();
  }
}

if (values.json) {
  console.log(JSON.stringify(rows, null, 2));
} else {
  console.log("| abuse | sent MB | RSS before MB | +held MB | +peak MB | node | fresh client | others disconnected | details |");
  console.log("|---|---|---|---|---|---|---|---|---|");
  for (const r of rows) {
    if (r.error) {
      console.log(`| ${r.abuse} | error: ${r.error} |||||||`);
      continue;
    }
    console.log(
      `| ${r.abuse} | ${r.sent_mb} | ${r.rss_before_mb} | ${r.held_mb} | ${r.peak_mb} | ${r.node} | ${r.fresh_client} | ${r.others_disconnected} | ${r.details} |`,
    );
  }
}
process.exit(0);
