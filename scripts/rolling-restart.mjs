#!/usr/bin/env node
// A rolling deploy against the built node: three nodes behind HAProxy
// round-robin, official clients in one room, a publisher at 50 msg/s, each
// node restarted in turn (SIGTERM, exit, start, 3 s) — or one killed with
// SIGKILL. Prints what the clients saw: lost, duplicated, reordered,
// reconnections and how many were not recovered, the longest gap between two
// deliveries, and each node's shutdown time. BENCHMARKS.md, "Rolling deploys".
//
//   node scripts/rolling-restart.mjs [--adapter redis|nats|amqp] [--clients 60]
//                                    [--kill] [--runs 1] [--log]
import { parseArgs } from "node:util";
import { deployment, killOne, rollingRestart, run } from "../e2e/rolling/harness.mjs";

const { values } = parseArgs({
  options: {
    adapter: { type: "string", default: "redis" },
    clients: { type: "string", default: "60" },
    runs: { type: "string", default: "1" },
    kill: { type: "boolean", default: false },
    log: { type: "boolean", default: false },
  },
});

for (let i = 0; i < Number(values.runs); i++) {
  const dep = await deployment(values.adapter, { log: values.log });
  try {
    const disrupt = values.kill ? killOne() : rollingRestart();
    const result = await run(dep, { clients: Number(values.clients), disrupt });
    console.log(JSON.stringify({ adapter: values.adapter, mode: values.kill ? "sigkill" : "rolling", ...result }));
  } finally {
    await dep.stop();
  }
}
process.exit(0);
