// The conformance example (core/examples/conformance.rs) with the official
// clients: socket.io-client on /socket.io/ (namespaces / and /custom), and
// engine.io-client on the bare Engine.IO echo at /engine.io/.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { Socket as EngineSocket } from "engine.io-client";
import { binaries, startServer, connect, once, closeAll, TRANSPORT_SETS } from "./helpers.mjs";

describe("conformance server", () => {
  let server;
  before(async () => {
    server = await startServer(binaries.conformance);
  });
  after(async () => {
    await server.stop();
  });

  it("answers a handshake with pingInterval 300, pingTimeout 200, maxPayload 1e6 and CORS", async () => {
    const res = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`, { headers: { origin: "http://elsewhere.test" } });
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    const open = JSON.parse((await res.text()).slice(1));
    assert.deepEqual([open.pingInterval, open.pingTimeout, open.maxPayload], [300, 200, 1000000]);
  });

  for (const transports of TRANSPORT_SETS) {
    for (const ns of ["/", "/custom"]) {
      it(`emits auth, echoes message and acks message-with-ack on ${ns} over ${transports.join("+")}`, async () => {
        const socket = (await import("socket.io-client")).io(`${server.url}${ns}`, {
          transports,
          forceNew: true,
          reconnection: false,
          auth: { token: "abc" },
        });
        const [auth] = await once(socket, "auth");
        assert.deepEqual(auth, { token: "abc" });
        const back = once(socket, "message-back");
        socket.emit("message", 1, "2", { 3: [true], bin: Buffer.from([4]) });
        assert.deepEqual(await back, [1, "2", { 3: [true], bin: Buffer.from([4]) }]);
        const acked = await new Promise((r) => socket.emit("message-with-ack", 1, "2", { 3: [false] }, (...a) => r(a)));
        assert.deepEqual(acked, [1, "2", { 3: [false] }]);
        // Heartbeats at 300 ms keep the connection through a second.
        await new Promise((r) => setTimeout(r, 1000));
        assert.equal(socket.connected, true);
        socket.close();
      });
    }
  }

  it("closes a connection that never joins a namespace after connectTimeout", async () => {
    const started = Date.now();
    const engine = new EngineSocket(server.url, { path: "/socket.io/", transports: ["websocket"] });
    await once(engine, "close", 5000);
    const waited = Date.now() - started;
    assert.ok(waited >= 900 && waited < 3000, `${waited} ms`);
  });

  for (const transports of TRANSPORT_SETS) {
    it(`serves the bare Engine.IO echo to engine.io-client over ${transports.join("+")}`, async () => {
      const engine = new EngineSocket(server.url, { path: "/engine.io/", transports });
      await once(engine, "open");
      const received = [];
      engine.on("message", (m) => received.push(m));
      engine.send("hello");
      engine.send(Buffer.from([1, 2, 3]));
      for (let i = 0; i < 100 && received.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(received[0], "hello");
      assert.deepEqual(Buffer.from(received[1]), Buffer.from([1, 2, 3]));
      // Heartbeats keep the session open.
      await new Promise((r) => setTimeout(r, 800));
      assert.equal(engine.readyState, "open");
      engine.close();
    });
  }
});
