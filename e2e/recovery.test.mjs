// Connection state recovery with the official client, on one node and
// across two nodes over each broker: the transport drops, messages are
// published to the client's room meanwhile, the client reconnects through
// the other node and gets its id, rooms and every missed message, in order,
// once. With Redis and NATS the session also survives the death of the node
// the client was on; with RabbitMQ it dies with that node (no shared store).
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { io } from "socket.io-client";
import { binaries, startServer, connect, once, closeAll } from "./helpers.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const SETUPS = [
  { name: "one node (in memory)", adapter: "memory", nodes: 1, store: true },
  { name: "two nodes over redis", adapter: "redis", nodes: 2, store: true },
  { name: "two nodes over nats", adapter: "nats", nodes: 2, store: true },
  { name: "two nodes over amqp", adapter: "amqp", nodes: 2, store: false },
];

for (const { name, adapter, nodes: count, store } of SETUPS) {
  describe(`connection state recovery: ${name}`, () => {
    const prefix = `recovery-${randomBytes(4).toString("hex")}`;
    let nodes = [];
    const clients = [];
    const open = async (node, opts = {}) => {
      const socket = await connect(node.url, { transports: ["websocket"], ...opts });
      clients.push(socket);
      return socket;
    };

    before(async () => {
      nodes = await Promise.all(
        Array.from({ length: count }, (_, i) =>
          startServer(binaries.node, {
            args: [
              "--adapter", adapter, "--recovery", "--ops", "--prefix", prefix, "--node-id", `n${i}`,
              "--heartbeat-interval", "300", "--heartbeat-timeout", "2000", "--request-timeout", "2000",
            ],
          }),
        ),
      );
      for (const node of nodes) {
        const probe = await connect(`${node.url}/ops`, { transports: ["websocket"] });
        for (let tries = 0; (await probe.emitWithAck("node")).servers !== count; tries++) {
          assert.ok(tries < 100, "the nodes did not find each other");
          await sleep(50);
        }
        probe.close();
      }
    });

    after(async () => {
      closeAll(clients);
      await Promise.all(nodes.map((n) => n.stop()));
    });

    /** A client in `room` on `node` whose transport drops after one message. */
    async function lostClient(node, publisher, room) {
      const client = await open(node);
      assert.equal(await client.emitWithAck("join", room), true);
      const first = once(client, "msg");
      publisher.emit("publish", { room, payload: "before" });
      const [payload, offset] = await first;
      assert.equal(payload, "before");
      assert.equal(typeof offset, "string", "events carry an offset");
      const state = { id: client.id, pid: client._pid, offset: client._lastOffset };
      assert.equal(typeof state.pid, "string", "the CONNECT reply carries a pid");
      client.io.engine.close(); // the transport drops; the client did not leave
      await sleep(300);
      return state;
    }

    /** Reconnects as socket.io-client does after a drop, through `node`. */
    async function reconnect(node, { pid, offset }) {
      const client = io(node.url, { forceNew: true, reconnection: false, autoConnect: false, transports: ["websocket"] });
      clients.push(client);
      client._pid = pid;
      client._lastOffset = offset;
      const received = [];
      client.on("msg", (payload) => received.push(payload));
      const connected = once(client, "connect");
      client.connect();
      await connected;
      return { client, received };
    }

    it("recovers the socket, its rooms and every missed message through another node", async () => {
      const [first, second] = [nodes[0], nodes[count - 1]];
      const publisher = await open(second);
      const lost = await lostClient(first, publisher, "room");
      for (let n = 1; n <= 5; n++) publisher.emit("publish", { room: "room", payload: n });
      publisher.emit("publish", { room: "elsewhere", payload: "not for it" });
      await sleep(300);
      const { client, received } = await reconnect(second, lost);
      assert.equal(client.recovered, true);
      assert.equal(client.id, lost.id, "the same socket id");
      await sleep(300);
      assert.deepEqual(received, [1, 2, 3, 4, 5], "every missed message, in order, once");
      const live = once(client, "msg");
      publisher.emit("publish", { room: "room", payload: "live" });
      assert.equal((await live)[0], "live", "its rooms are back");
    });

    it("starts afresh with an unknown session", async () => {
      const { client } = await reconnect(nodes[0], { pid: "unknown", offset: "unknown" });
      assert.equal(client.recovered, false);
      assert.equal(typeof client._pid, "string");
    });

    if (count === 2) {
      it(store ? "keeps the session when the node it was on dies" : "loses the session with the node it was on", async () => {
        const publisher = await open(nodes[1]);
        const lost = await lostClient(nodes[0], publisher, "survivors");
        await nodes[0].stop("SIGKILL");
        for (let n = 1; n <= 3; n++) publisher.emit("publish", { room: "survivors", payload: n });
        await sleep(300);
        const { client, received } = await reconnect(nodes[1], lost);
        if (store) {
          assert.equal(client.recovered, true);
          assert.equal(client.id, lost.id);
          await sleep(300);
          assert.deepEqual(received, [1, 2, 3]);
        } else {
          assert.equal(client.recovered, false, "RabbitMQ keeps no recovery data: it died with the node");
          assert.notEqual(client.id, lost.id);
        }
      });
    }
  });
}
