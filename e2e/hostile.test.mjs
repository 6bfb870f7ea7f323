// Hostile and broken clients against the built node, in its default
// configuration (plus short HTTP timeouts where a test waits for them).
// Each abuse asserts that (a) the node stays up, (b) a fresh official client
// still connects and gets its ack, (c) the node's RSS while the attacker is
// connected stays under a bound derived from the configured budgets, and
// (d) no other connected client (official clients over WebSocket and
// polling) was disconnected. Memory and liveness, never wall-clock speed.
import { describe, it, before, after, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { binaries, startServer } from "./helpers.mjs";
import * as attack from "./hostile/attacks.mjs";
import { MB, pollingGet, pollingHandshake, pollingPost, rawWebSocket } from "./hostile/raw.mjs";

// The node's defaults (README, "Limits"); the bounds below derive from them.
const BUDGET = {
  clientBuffer: 1 * MB, // --max-client-buffer-bytes
  message: 1_000_000, // --max-http-buffer-size
  handshake: 32 * 1024, // --max-handshake-bytes
  packetElements: 100_000, // --max-packet-elements
  valueBytes: 40, // what one decoded value costs
};
/** What one attacking connection may cost at most while it is connected. */
const PER_CLIENT =
  BUDGET.clientBuffer + 3 * BUDGET.message + BUDGET.handshake + BUDGET.packetElements * BUDGET.valueBytes;
/** Allocator arenas, thread caches and the observers' own sessions. */
const SLACK = 24 * MB;
const bound = (before, attackers) => before + attackers * PER_CLIENT + SLACK;

const FAST_HTTP = { HEADERS_TIMEOUT: "1500", HTTP_REQUEST_TIMEOUT: "1500" };

function suite(parser) {
  describe(`hostile clients (${parser} parser)`, () => {
    let server;
    let observers;
    before(async () => {
      server = await startServer(binaries.node, {
        env: { ...FAST_HTTP, ...(parser === "msgpack" ? { PARSER: "msgpack" } : {}), RUST_LOG: "warn" },
        captureLog: true,
      });
    });
    after(async () => {
      await server.stop();
    });
    beforeEach(async () => {
      observers = await attack.observers(server.url, { parser });
    });
    afterEach(async () => {
      observers.close();
    });

    /** (a), (b) and (d) after an attack. */
    async function nothingElseNoticed() {
      assert.equal(server.child.exitCode, null, "the node is up");
      await attack.freshClientWorks(server.url, { parser });
      assert.deepEqual(observers.disconnected(), [], "no other client was disconnected");
      await observers.echo();
    }

    it("a 1 MB auth payload of zeros is refused, not kept", async () => {
      const r = await attack.measured(server, () => attack.authBomb(server, { parser }));
      assert.ok(r.answers.every((a) => a !== "connected"), JSON.stringify(r.answers));
      assert.ok(r.held < bound(r.before, 4), `held ${(r.held / MB).toFixed(1)} MB`);
      // Under the packet's value budget, over the handshake's.
      const small = await attack.measured(server, () => attack.authBomb(server, { parser, bytes: 60_000 }));
      assert.deepEqual(small.answers, ["refused", "refused", "refused", "refused"]);
      assert.ok(small.held < bound(small.before, 4), `held ${(small.held / MB).toFixed(1)} MB`);
      await nothingElseNoticed();
    });

    if (parser === "msgpack") {
      it("nested msgpack lengths reserve no more than the input holds", async () => {
        const r = await attack.measured(server, () => attack.msgpackNest(server));
        assert.equal(r.closed, 4, "each attacker is closed as malformed");
        assert.ok(r.peak < bound(r.before, 4), `peak ${(r.peak / MB).toFixed(1)} MB`);
        await nothingElseNoticed();
      });
    }

    it("WebSocket pings from a client that never reads are answered by one pong at most", async () => {
      const r = await attack.measured(server, () => attack.pingFlood(server));
      assert.ok(r.sent > 1 * MB, `sent ${r.sent}`);
      assert.ok(r.held < bound(r.before, 1), `held ${(r.held / MB).toFixed(1)} MB`);
      await nothingElseNoticed();
    });

    it("echo acks never fetched over polling stop at the client's byte budget", async () => {
      const r = await attack.measured(server, () => attack.pollingEchoBomb(server, { acks: 30 }));
      assert.ok(r.refused > 0 || r.sessionGone, "the session was cut off at its budget");
      assert.ok(r.held < bound(r.before, 1), `held ${(r.held / MB).toFixed(1)} MB`);
      await nothingElseNoticed();
    });

    it("CONNECT/DISCONNECT churn with new users cannot flood the other clients", async () => {
      const r = await attack.measured(server, () => attack.presenceChurn(server, { cycles: 5000 }));
      assert.ok(r.held < bound(r.before, 1), `held ${(r.held / MB).toFixed(1)} MB`);
      await nothingElseNoticed();
    });

    it("request heads over the header limit are answered 431", async () => {
      const r = await attack.measured(server, () => attack.headerBomb(server, { sessions: 10 }));
      assert.deepEqual(r.statuses, [431]);
      await nothingElseNoticed();
    });

    it("CONNECTs to unknown namespaces from a client that never reads stay bounded", async () => {
      const r = await attack.measured(server, () => attack.unknownNamespaceFlood(server));
      assert.ok(r.held < bound(r.before, 1), `held ${(r.held / MB).toFixed(1)} MB`);
      await nothingElseNoticed();
    });

    it("slow request heads and bodies are cut at their timeouts", async () => {
      const heads = await attack.slowloris(server, { connections: 50, ms: 4000 });
      assert.equal(heads.closed, heads.connections, "every slow head was closed");
      const body = await attack.slowBody(server, { ms: 5000 });
      assert.ok(body.closed, "the slow body's connection was closed");
      assert.equal(body.status, 408);
      await nothingElseNoticed();
    });

    it("malformed input of every kind closes that connection only", async () => {
      const { outcomes } = await attack.garbage(server);
      for (const [name, outcome] of Object.entries(outcomes)) {
        assert.ok(outcome === "closed" || (outcome >= 400 && outcome < 500), `${name}: ${outcome}`);
      }
      await nothingElseNoticed();
    });

    if (parser === "json") {
      it("counts every refusal in /metrics", async () => {
        const text = await (await fetch(`${server.url}/metrics`)).text();
        for (const reason of [
          "packet_elements",
          "handshake_bytes",
          "client_buffer",
          "header_bytes",
          "malformed",
          "unknown_namespace",
          "connect_rate",
          "request_timeout",
        ]) {
          const line = text.split("\n").find((l) => l.startsWith(`switchyard_refused_total{reason="${reason}"}`));
          assert.ok(line && Number(line.split(" ").pop()) > 0, `no count for ${reason}`);
        }
        // Warnings are rate-limited: a flood of refusals is a few lines.
        const warns = server.log().split("\n").filter((l) => l.includes("WARN") && l.includes("reason="));
        assert.ok(warns.length > 0 && warns.length < 200, `${warns.length} warn lines`);
      });
    }
  });
}

suite("json");
suite("msgpack");

describe("hostile clients: connection cap and per-address session rate", () => {
  let server;
  before(async () => {
    server = await startServer(binaries.node, {
      env: { MAX_CONNECTIONS: "40", ADDRESS_SESSION_RATE: "1", ADDRESS_SESSION_BURST: "30", RUST_LOG: "error" },
      captureLog: true,
    });
  });
  after(async () => {
    await server.stop();
  });

  it("answers 503 past the connection limit and serves again once they leave", async () => {
    const r = await attack.connectionFlood(server, { connections: 100 });
    assert.ok((r.statuses[503] ?? 0) >= 50, JSON.stringify(r.statuses));
    assert.ok((r.statuses[200] ?? 0) <= 40, JSON.stringify(r.statuses));
    // The flood is gone: a client connects again.
    for (let i = 0; i < 50; i++) {
      try {
        await pollingHandshake(server.url);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  });

  it("answers 429 to an address opening sessions past its rate", async () => {
    let refused = 0;
    for (let i = 0; i < 40; i++) {
      const res = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`);
      await res.text();
      if (res.status === 429) refused++;
    }
    assert.ok(refused > 0, "some handshakes were refused");
    assert.equal(server.child.exitCode, null);
  });
});

describe("hostile clients: recovery with made-up ids", () => {
  let server;
  before(async () => {
    server = await startServer(binaries.node, { env: { RECOVERY: "1", RUST_LOG: "error" } });
  });
  after(async () => {
    await server.stop();
  });

  it("answers a CONNECT with an unknown pid or offset with a fresh session", async () => {
    const r = await attack.bogusRecovery(server, { attempts: 3 });
    assert.equal(r.times.length, 3);
    // A real session and a made-up offset: a fresh session too.
    const c = await rawWebSocket(server.port);
    await c.next((t) => t.startsWith("0{"));
    c.text("40");
    const reply = JSON.parse((await c.next((t) => t.startsWith("40"))).payload.toString().slice(2));
    c.destroy();
    const again = await rawWebSocket(server.port);
    await again.next((t) => t.startsWith("0{"));
    again.text(`40${JSON.stringify({ pid: reply.pid, offset: "not-an-offset" })}`);
    const second = JSON.parse((await again.next((t) => t.startsWith("40"))).payload.toString().slice(2));
    assert.notEqual(second.sid, reply.sid, "not recovered");
    again.destroy();
  });
});

describe("hostile clients: a polling client that stops fetching", () => {
  let server;
  before(async () => {
    server = await startServer(binaries.node, { env: { RUST_LOG: "error" } });
  });
  after(async () => {
    await server.stop();
  });

  it("is disconnected past its byte budget while its room keeps flowing to others", async () => {
    const observers = await attack.observers(server.url);
    const received = observers.list.map(() => 0);
    observers.list.forEach((o, i) => o.socket.on("msg", () => received[i]++));
    for (const o of observers.list) await o.socket.emitWithAck("join", "busy");
    const sid = await pollingHandshake(server.url);
    await pollingPost(server.url, sid, "40");
    await pollingGet(server.url, sid);
    await pollingPost(server.url, sid, '420["join","busy"]');
    // 1,000 msg/s of 1 KB for 1.6 s: 1.6 MB for a client that never fetches.
    const payload = "p".repeat(1000);
    const total = 1600;
    for (let i = 0; i < total; i += 10) {
      for (let j = 0; j < 10; j++) observers.list[0].socket.emit("publish", { room: "busy", payload });
      await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise((r) => setTimeout(r, 500));
    const late = await pollingGet(server.url, sid);
    assert.equal(late.status, 400, "the slow client was cut off past its budget");
    assert.deepEqual(observers.disconnected(), []);
    assert.deepEqual(received, observers.list.map(() => total), "the others got every message");
    await observers.echo();
    observers.close();
  });
});
