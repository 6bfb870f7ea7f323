// Cluster-wide presence through the node's default namespace, over each
// broker: users with several sessions spread over 3 nodes join once and
// leave once on every observer; a node killed with SIGKILL takes its users
// with it after the heartbeat timeout; a node started later sees the same
// presence as the others.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { binaries, startServer, connect, closeAll } from "./helpers.mjs";

const HEARTBEAT_TIMEOUT = 2000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, check, ms = 8000) {
  const start = Date.now();
  for (;;) {
    if (await check()) return;
    assert.ok(Date.now() - start < ms, what);
    await sleep(50);
  }
}

for (const broker of ["redis", "nats", "amqp"]) {
  describe(`presence over ${broker}`, () => {
    const prefix = `presence-${randomBytes(4).toString("hex")}`;
    const args = (i) => [
      "--adapter", broker, "--prefix", prefix, "--node-id", `n${i}`,
      "--heartbeat-interval", "300", "--heartbeat-timeout", String(HEARTBEAT_TIMEOUT),
    ];
    let nodes = [];
    const clients = [];
    const open = async (node, user) => {
      const socket = await connect(node.url, { transports: ["websocket"], auth: user ? { user } : {} });
      clients.push(socket);
      return socket;
    };
    const users = async (node) => {
      const probe = await open(node);
      const { users } = await probe.emitWithAck("presence");
      probe.close();
      return users;
    };

    before(async () => {
      nodes = await Promise.all([0, 1, 2].map((i) => startServer(binaries.node, { args: args(i) })));
    });
    after(async () => {
      closeAll(clients);
      await Promise.all(nodes.map((n) => n.stop()));
    });

    it("counts sessions per user across nodes, with one join and one leave per user", async () => {
      // Observers (no user) record the presence events each node sends.
      const observers = await Promise.all(nodes.map((n) => open(n)));
      const seen = observers.map((o) => {
        const events = [];
        o.on("presence", (e) => events.push(e));
        return events;
      });
      await sleep(300); // the nodes find each other
      const ann = [await open(nodes[0], "ann"), await open(nodes[1], "ann")];
      await open(nodes[2], "bob");
      await Promise.all(nodes.map((n) => open(n, "carl")));
      const sorted = (users) => JSON.stringify(Object.entries(users).sort());
      for (const node of nodes) {
        await until("every node counts every session", async () => sorted(await users(node)) === sorted({ ann: 2, bob: 1, carl: 3 }));
      }
      await sleep(300);
      for (const events of seen) {
        assert.deepEqual(
          [...events].sort((a, b) => a.user.localeCompare(b.user)),
          [{ user: "ann", online: true }, { user: "bob", online: true }, { user: "carl", online: true }],
          "one join per user, not one per session",
        );
      }

      ann[0].close();
      await until("ann keeps one session", async () => (await users(nodes[2])).ann === 1);
      await sleep(300);
      assert.ok(seen.every((events) => events.length === 3), "ann is still online: no event");
      ann[1].close();
      await until("ann leaves everywhere", async () => seen.every((events) => events.length === 4));
      for (const events of seen) assert.deepEqual(events[3], { user: "ann", online: false });
    });

    it("drops the users of a node killed with SIGKILL, and a late node sees the same", async () => {
      const observer = await open(nodes[0]);
      const events = [];
      observer.on("presence", (e) => events.push(e));
      const killed = Date.now();
      await nodes[2].stop("SIGKILL");
      await until("bob leaves with his node", () => events.some((e) => e.user === "bob" && !e.online), HEARTBEAT_TIMEOUT + 5000);
      assert.ok(Date.now() - killed >= HEARTBEAT_TIMEOUT - 500, "dropped by the heartbeat timeout");
      assert.deepEqual(events, [{ user: "bob", online: false }], "carl keeps sessions elsewhere: no event");
      assert.deepEqual(await users(nodes[0]), { carl: 2 });

      const late = await startServer(binaries.node, { args: args(3) });
      nodes.push(late);
      await until("the late node learns who is online", async () => JSON.stringify(await users(late)) === JSON.stringify({ carl: 2 }));
      assert.deepEqual(await users(nodes[1]), { carl: 2 });
    });
  });
}
