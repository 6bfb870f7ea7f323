// Three switchyard nodes per broker (Redis in both formats, NATS, RabbitMQ), official
// clients spread over them: broadcasts, acks, fetch/join/leave/disconnect,
// server-side emits, a burst of 1,000 in order, and a node killed with
// SIGKILL. The brokers run on loopback (scripts/services.sh).
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { binaries, startServer, connect, once, never, closeAll } from "./helpers.mjs";

const HEARTBEAT_TIMEOUT = 2000;
const REQUEST_TIMEOUT = 2000;

// Redis runs twice: in its default format (Node's @socket.io/redis-adapter,
// servers counted by PUBSUB NUMSUB) and in Switchyard's (heartbeats).
const SETUPS = [
  { broker: "redis", name: "redis (Node's format)", args: [], membership: "subscribers" },
  { broker: "redis", name: "redis (switchyard format)", args: ["--redis-format", "switchyard"], membership: "heartbeat" },
  { broker: "nats", name: "nats", args: [], membership: "heartbeat" },
  { broker: "amqp", name: "amqp", args: [], membership: "heartbeat" },
];

for (const { broker, name, args: extraArgs, membership } of SETUPS) {
  describe(`cluster of 3 over ${name}`, () => {
    const prefix = `e2e-${randomBytes(4).toString("hex")}`;
    let nodes = [];
    const clients = [];
    const open = async (node, path = "/", opts = {}) => {
      const socket = await connect(`${nodes[node].url}${path}`, { transports: ["websocket"], ...opts });
      clients.push(socket);
      return socket;
    };

    before(async () => {
      nodes = await Promise.all(
        [0, 1, 2].map((i) =>
          startServer(binaries.node, {
            args: [
              "--adapter", broker, "--ops", "--prefix", prefix, "--node-id", `n${i}`,
              "--heartbeat-interval", "300", "--heartbeat-timeout", String(HEARTBEAT_TIMEOUT),
              "--request-timeout", String(REQUEST_TIMEOUT), ...extraArgs,
            ],
          }),
        ),
      );
      // Wait until every node counts three servers.
      for (let i = 0; i < 3; i++) {
        const probe = await open(i, "/ops");
        for (let tries = 0; ; tries++) {
          const { servers } = await probe.emitWithAck("node");
          if (servers === 3) break;
          assert.ok(tries < 100, `node ${i} sees ${servers} servers`);
          await new Promise((r) => setTimeout(r, 50));
        }
        probe.close();
      }
    });

    after(async () => {
      closeAll(clients);
      await Promise.all(nodes.map((n) => n.stop()));
    });

    it("acknowledges a join once it is heard cluster-wide: 20 fresh rooms, nothing lost", async () => {
      const members = [await open(0), await open(1), await open(2)];
      for (let round = 0; round < 20; round++) {
        const room = `fresh-${round}-${randomBytes(3).toString("hex")}`;
        // Each member joins at once and waits for its ack: no settling time.
        const joined = await Promise.all(members.map((m) => m.emitWithAck("join", room)));
        assert.deepEqual(joined, [true, true, true]);
        const got = members.map(() => []);
        const listeners = members.map((m, i) => {
          const listener = (n) => got[i].push(n);
          m.on("msg", listener);
          return listener;
        });
        for (let n = 0; n < 20; n++) {
          members[1].emit("publish", { room, payload: n });
          await new Promise((r) => setTimeout(r, 5));
        }
        for (let t = 0; got.some((g) => g.length < 20) && t < 100; t++) await new Promise((r) => setTimeout(r, 50));
        members.forEach((m, i) => m.off("msg", listeners[i]));
        const expected = Array.from({ length: 20 }, (_, n) => n);
        got.forEach((g, i) => assert.deepEqual(g, expected, `round ${round}, member on node ${i}`));
      }
    });

    it("broadcasts to all, to a room and except a room, across nodes", async () => {
      const [a, b, c] = [await open(0), await open(1), await open(2)];
      await a.emitWithAck("join", "room");
      await b.emitWithAck("join", "room");
      await b.emitWithAck("join", "vip");
      let gotA = once(a, "msg"), gotB = once(b, "msg"), notC = never(c, "msg");
      c.emit("publish", { room: "room", payload: { from: "c", bin: Buffer.from([1, 2]) } });
      assert.deepEqual((await gotA)[0], { from: "c", bin: Buffer.from([1, 2]) });
      assert.deepEqual((await gotB)[0], { from: "c", bin: Buffer.from([1, 2]) });
      await notC;
      gotA = once(a, "msg");
      const notB = never(b, "msg");
      c.emit("publish", { room: "room", payload: "no vips", except: "vip" });
      assert.deepEqual(await gotA, ["no vips"]);
      await notB;
      // To everyone, through the /ops namespace.
      const ops = [await open(0, "/ops"), await open(1, "/ops"), await open(2, "/ops")];
      const all = ops.map((s) => once(s, "hello"));
      assert.equal(await ops[1].emitWithAck("emit", {}, "hello", "everyone"), true);
      for (const args of await Promise.all(all)) assert.deepEqual(args, ["everyone"]);
      closeAll(ops);
    });

    it("collects acknowledgements from clients on every node", async () => {
      const ops = [await open(0, "/ops"), await open(1, "/ops"), await open(2, "/ops")];
      ops.forEach((s, i) => s.on("poll", (ack) => ack(`client-on-n${i}`)));
      const reply = await ops[0].timeout(5000).emitWithAck("poll-everyone", 3000);
      assert.deepEqual([...reply.responses].sort(), ["client-on-n0", "client-on-n1", "client-on-n2"]);
      closeAll(ops);
    });

    it("fetches, joins, removes and disconnects sockets across nodes", async () => {
      const ops = [await open(0, "/ops", { auth: { n: 0 } }), await open(1, "/ops", { auth: { n: 1 } }), await open(2, "/ops", { auth: { n: 2 } })];
      await ops[2].emitWithAck("set-data", { on: "n2" });
      await ops[1].emitWithAck("join", ["team"]);
      await ops[2].emitWithAck("join", ["team"]);
      const team = await ops[0].emitWithAck("fetch", { to: ["team"] });
      assert.deepEqual(team.map((s) => s.id).sort(), [ops[1].id, ops[2].id].sort());
      const remote = team.find((s) => s.id === ops[2].id);
      assert.deepEqual(remote.data, { on: "n2" });
      assert.deepEqual(remote.auth, { n: 2 });

      await ops[0].emitWithAck("sockets-join", { to: ["team"] }, "joined");
      await new Promise((r) => setTimeout(r, 200));
      assert.equal((await ops[0].emitWithAck("fetch", { to: ["joined"] })).length, 2);
      await ops[0].emitWithAck("sockets-leave", { to: [ops[1].id] }, "joined");
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual((await ops[0].emitWithAck("fetch", { to: ["joined"] })).map((s) => s.id), [ops[2].id]);

      const gone = once(ops[2], "disconnect");
      await ops[0].emitWithAck("disconnect-sockets", { to: [ops[2].id] }, false);
      assert.equal((await gone)[0], "io server disconnect");
      closeAll(ops);
    });

    it("emits to the other servers and collects their answers", async () => {
      const probe = await open(0, "/ops");
      const reply = await probe.timeout(5000).emitWithAck("server-side-emit", ["ping", 42], 3000);
      assert.equal(reply.missing, 0);
      assert.deepEqual(reply.responses.map((r) => r.node).sort(), ["n1", "n2"]);
      for (const r of reply.responses) assert.deepEqual(r.args, ["ping", 42]);
      probe.close();
    });

    it("delivers a burst of 1,000 messages in order to clients on every node", async () => {
      const subscribers = [await open(0), await open(1), await open(2)];
      for (const s of subscribers) await s.emitWithAck("join", "burst");
      await new Promise((r) => setTimeout(r, 200));
      const received = subscribers.map(() => []);
      const done = subscribers.map((s, i) => new Promise((resolve) => {
        s.on("msg", (n) => {
          received[i].push(n);
          if (received[i].length === 1000) resolve();
        });
      }));
      const publisher = await open(1);
      for (let n = 0; n < 1000; n++) publisher.emit("publish", { room: "burst", payload: n });
      await Promise.race([Promise.all(done), new Promise((_, reject) => setTimeout(() => reject(new Error("burst incomplete")), 15000))]);
      await new Promise((r) => setTimeout(r, 200)); // nothing twice
      const expected = Array.from({ length: 1000 }, (_, n) => n);
      received.forEach((got, i) => assert.deepEqual(got, expected, `client on n${i}`));
    });

    it("drops a node stopped with SIGTERM at once: it says goodbye", async () => {
      const probe = await open(0, "/ops");
      const exit = await nodes[1].stop("SIGTERM");
      assert.equal(exit.code, 0);
      const started = Date.now();
      for (;;) {
        const { servers } = await probe.emitWithAck("node");
        if (servers === 2) break;
        assert.ok(Date.now() - started < HEARTBEAT_TIMEOUT / 2, "the goodbye did not arrive");
        await new Promise((r) => setTimeout(r, 50));
      }
    });

    it("drops a node killed with SIGKILL; requests never hang", async () => {
      const probe = await open(0, "/ops");
      await open(2, "/ops");
      await nodes[2].stop("SIGKILL");
      const started = Date.now();
      if (membership === "subscribers") {
        // Redis drops the dead connection's subscriptions at once.
        for (;;) {
          const { servers } = await probe.emitWithAck("node");
          if (servers === 1) break;
          assert.ok(Date.now() - started < 1000, "Redis still counts the dead node");
          await new Promise((r) => setTimeout(r, 20));
        }
        const after = await probe.emitWithAck("fetch-partial", {});
        assert.equal(after.missing, 0);
        assert.ok(Date.now() - started < REQUEST_TIMEOUT, `answered after ${Date.now() - started} ms`);
        return;
      }
      // Heartbeats: requests are partial until the heartbeat timeout drops it.
      const partial = await probe.timeout(REQUEST_TIMEOUT + 3000).emitWithAck("fetch-partial", {});
      assert.ok(Date.now() - started <= REQUEST_TIMEOUT + 1500, `answered in ${Date.now() - started} ms`);
      assert.equal(partial.missing, 1);
      for (;;) {
        const { servers } = await probe.emitWithAck("node");
        if (servers === 1) break;
        assert.ok(Date.now() - started < HEARTBEAT_TIMEOUT + 3000, "the dead node was never dropped");
        await new Promise((r) => setTimeout(r, 100));
      }
      const after = await probe.emitWithAck("fetch-partial", {});
      assert.equal(after.missing, 0);
    });
  });
}
