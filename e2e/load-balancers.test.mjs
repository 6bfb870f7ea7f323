// Three nodes behind the load balancer configs of deploy/ (rewritten only
// to point at loopback ports): HAProxy in plain round-robin with no
// stickiness, where the nodes forward each request to the session's owner,
// over each broker; and the sticky fast paths, HAProxy's cookie and nginx's
// client-address hash, where nothing needs forwarding. 20 official clients
// each complete 100 echoes and receive every room broadcast, polling only
// and upgraded to WebSocket.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { binaries, startServer, connect, closeAll, startBalancer } from "./helpers.mjs";

const CLIENTS = 20;
const ECHOES = 100;
const BROADCASTS = 10;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function forwarded(nodes) {
  let total = 0;
  for (const node of nodes) {
    const text = await (await fetch(`${node.url}/metrics`)).text();
    total += Number(/^switchyard_forwarded_requests_total (\d+)$/m.exec(text)?.[1] ?? NaN);
  }
  return total;
}

/** 20 clients through `url`: echoes and room broadcasts, all accounted for. */
async function echoesAndBroadcasts(url, transports, extra = {}) {
  const clients = await Promise.all(Array.from({ length: CLIENTS }, () => connect(url, { transports, ...extra })));
  try {
    const room = `room-${randomBytes(3).toString("hex")}`;
    for (const c of clients) assert.equal(await c.timeout(5000).emitWithAck("join", room), true);
    const received = clients.map(() => []);
    clients.forEach((c, i) => c.on("msg", (n) => received[i].push(n)));
    const publishing = (async () => {
      // One publisher: order is promised per publisher (two polling
      // clients' emits 50 ms apart may reach the cluster either way round
      // when a POST waits behind the previous one on a loaded machine).
      for (let n = 0; n < BROADCASTS; n++) {
        clients[0].emit("publish", { room, payload: n });
        await sleep(50);
      }
    })();
    await Promise.all(
      clients.map(async (c, i) => {
        for (let n = 0; n < ECHOES; n++) {
          assert.deepEqual(await c.timeout(10000).emitWithAck("echo", { i, n }), { i, n });
        }
      }),
    );
    await publishing;
    const expected = Array.from({ length: BROADCASTS }, (_, n) => n);
    for (let t = 0; received.some((r) => r.length < BROADCASTS) && t < 100; t++) await sleep(50);
    received.forEach((r) => assert.deepEqual(r, expected, "every broadcast, once, in order"));
    return clients.map((c) => c.io.engine.transport.name);
  } finally {
    closeAll(clients);
  }
}

function cluster(broker) {
  const prefix = `lb-${randomBytes(4).toString("hex")}`;
  return Promise.all(
    [0, 1, 2].map((i) =>
      startServer(binaries.node, {
        args: ["--adapter", broker, "--prefix", prefix, "--node-id", `n${i}`, "--heartbeat-interval", "300"],
      }),
    ),
  );
}

for (const broker of ["redis", "nats", "amqp"]) {
  describe(`no sticky sessions: HAProxy round-robin over ${broker}`, () => {
    let nodes = [];
    let lb;
    before(async () => {
      nodes = await cluster(broker);
      lb = await startBalancer("haproxy", "haproxy-roundrobin.cfg", nodes);
      await sleep(500); // the nodes learn where the others listen
    });
    after(async () => {
      await lb?.stop();
      await Promise.all(nodes.map((n) => n.stop()));
    });

    it("serves polling-only clients, forwarding requests to each session's owner", async () => {
      const before = await forwarded(nodes);
      const transports = await echoesAndBroadcasts(lb.url, ["polling"]);
      assert.ok(transports.every((t) => t === "polling"));
      assert.ok((await forwarded(nodes)) - before > CLIENTS * ECHOES, "most requests were forwarded");
    });

    it("serves clients that upgrade to WebSocket", async () => {
      const transports = await echoesAndBroadcasts(lb.url, ["polling", "websocket"]);
      assert.ok(transports.every((t) => t === "websocket"), transports.join());
    });
  });
}

describe("sticky sessions: the fast path needs no forwarding", () => {
  let nodes = [];
  before(async () => {
    nodes = await cluster("redis");
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  });

  for (const [kind, file, extra] of [
    ["haproxy", "haproxy.cfg", { withCredentials: true }],
    ["nginx", "nginx.conf", {}],
  ]) {
    it(`${kind} with deploy/${file}`, async () => {
      const lb = await startBalancer(kind, file, nodes);
      try {
        const before = await forwarded(nodes);
        await echoesAndBroadcasts(lb.url, ["polling"], extra);
        await echoesAndBroadcasts(lb.url, ["polling", "websocket"], extra);
        assert.equal((await forwarded(nodes)) - before, 0, "sticky routing: nothing forwarded");
      } finally {
        await lb.stop();
      }
    });
  }
});
