// A rolling deploy on each broker: three nodes with connection state
// recovery behind HAProxy in plain round-robin (deploy/haproxy-roundrobin.cfg,
// /readyz checks), 60 official clients in one room (polling, then upgraded),
// a publisher at 50 msg/s with sequence numbers, and each node restarted in
// turn: SIGTERM, wait for the exit, start again, 3 s, next. Every client is
// connected at the end, every reconnection recovered its session, and every
// client got every message any client got, once and in order.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { deployment, rollingRestart, run } from "./rolling/harness.mjs";

for (const adapter of ["redis", "nats", "amqp"]) {
  describe(`rolling restart over ${adapter}`, () => {
    it("loses, duplicates and reorders nothing, and every client recovers", async () => {
      const dep = await deployment(adapter);
      let result;
      try {
        result = await run(dep, { clients: 60, rate: 50, disrupt: rollingRestart({ pause: 3000 }) });
      } finally {
        await dep.stop();
      }
      const summary = JSON.stringify(result);
      assert.equal(result.connectedAtEnd, result.clients, summary);
      assert.ok(result.reconnections >= 20, `the restarts moved clients: ${summary}`);
      assert.equal(result.notRecovered, 0, summary);
      assert.equal(result.lost, 0, summary);
      assert.equal(result.duplicated, 0, summary);
      assert.equal(result.reordered, 0, summary);
      // Every node drained and exited within --shutdown-timeout (10 s).
      for (const ms of result.shutdownMs) assert.ok(ms < 10_000, summary);
    });
  });
}
