// Three nodes behind the load balancer configs of deploy/ (rewritten only
// to point at loopback ports): HAProxy in plain round-robin with no
// stickiness, where the nodes forward each request to the session's owner,
// over each broker; and the sticky fast paths, HAProxy's cookie and nginx's
// client-address hash, where nothing needs forwarding. 20 official clients
// each complete 100 echoes and receive every room broadcast, polling only
// and upgraded to WebSocket.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { binaries, startServer, connect, freePort, closeAll } from "./helpers.mjs";

const DEPLOY = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "deploy");
const CLIENTS = 20;
const ECHOES = 100;
const BROADCASTS = 10;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** deploy/<file>, listening on `port` and pointing at the nodes. */
function rewrite(file, port, nodes) {
  return readFileSync(path.join(DEPLOY, file), "utf8")
    .replace("bind :8080", `bind 127.0.0.1:${port}`)
    .replace("listen 8080;", `listen 127.0.0.1:${port};`)
    .replace(/node(\d):3000/g, (_, i) => `127.0.0.1:${nodes[Number(i) - 1].port}`);
}

/** Runs a load balancer on a deploy/ config; resolves once it serves. */
async function startBalancer(kind, file, nodes) {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), "lb-"));
  const config = path.join(dir, path.basename(file));
  writeFileSync(config, rewrite(file, port, nodes));
  const child =
    kind === "haproxy"
      ? spawn("haproxy", ["-f", config, "-db"], { stdio: ["ignore", "ignore", "inherit"] })
      : spawn("nginx", ["-c", config, "-p", dir, "-g", `daemon off; pid ${dir}/nginx.pid; error_log stderr warn;`], { stdio: ["ignore", "ignore", "inherit"] });
  let exited = null;
  child.on("exit", (code) => (exited = code));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    assert.equal(exited, null, `${kind} exited`);
    assert.ok(i < 100, `${kind} did not start`);
    // Every node must be up behind it (health checks pass).
    const answers = await Promise.all(nodes.map(() => fetch(`${url}/healthz`).then((r) => r.status).catch(() => 0)));
    if (answers.every((s) => s === 200)) break;
    await sleep(100);
  }
  return {
    url,
    stop: () => new Promise((resolve) => (exited !== null ? resolve() : (child.on("exit", resolve), child.kill("SIGTERM")))),
  };
}

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
    await sleep(300); // room subscriptions reach the broker
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
