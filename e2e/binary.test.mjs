// The switchyard node binary with the official socket.io-client: the bench
// contract over every transport set, binary payloads, 50 concurrent
// clients, a 500 KB payload, the chat demo and graceful shutdown.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { binaries, startServer, connect, once, never, closeAll, TRANSPORT_SETS } from "./helpers.mjs";

describe("switchyard node", () => {
  let server;
  before(async () => {
    server = await startServer(binaries.node, { args: ["--ping-interval", "2000", "--ping-timeout", "2000"] });
  });
  after(async () => {
    await server.stop();
  });

  it("serves the demo page, the client bundle and a health check", async () => {
    const page = await fetch(`${server.url}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /Switchyard chat/);
    const bundle = await fetch(`${server.url}/socket.io.min.js`);
    assert.equal(bundle.status, 200);
    assert.match(bundle.headers.get("content-type"), /javascript/);
    assert.equal(await (await fetch(`${server.url}/healthz`)).text(), "ok");
  });

  for (const transports of TRANSPORT_SETS) {
    describe(`transports ${transports.join("+")}`, () => {
      it("echoes every argument back, binary nested anywhere", async () => {
        const socket = await connect(server.url, { transports });
        const args = [1, "two", { three: Buffer.from([3, 3, 3]), nested: [{ deep: Buffer.from("x") }] }, [Buffer.alloc(0)], null, true];
        const reply = await new Promise((resolve) => socket.emit("echo", ...args, (...back) => resolve(back)));
        assert.deepEqual(reply, args);
        if (transports.includes("websocket")) {
          // The upgrade (if any) completes: the client ends on WebSocket.
          for (let i = 0; i < 50 && socket.io.engine.transport.name !== "websocket"; i++) {
            await new Promise((r) => setTimeout(r, 20));
          }
          assert.equal(socket.io.engine.transport.name, "websocket");
        }
        socket.close();
      });

      it("joins rooms and publishes to them, except some", async () => {
        const [a, b, c] = await Promise.all([0, 1, 2].map(() => connect(server.url, { transports })));
        assert.equal(await a.emitWithAck("join", "r"), true);
        assert.equal(await b.emitWithAck("join", "r"), true);
        assert.equal(await b.emitWithAck("join", "vip"), true);
        const gotA = once(a, "msg");
        const gotB = once(b, "msg");
        const notC = never(c, "msg");
        c.emit("publish", { room: "r", payload: { n: 1, bin: Buffer.from([7]) } });
        assert.deepEqual((await gotA)[0], { n: 1, bin: Buffer.from([7]) });
        assert.deepEqual((await gotB)[0], { n: 1, bin: Buffer.from([7]) });
        await notC;
        const gotA2 = once(a, "msg");
        const notB = never(b, "msg");
        c.emit("publish", { room: "r", payload: "not for vips", except: "vip" });
        assert.deepEqual(await gotA2, ["not for vips"]);
        await notB;
        assert.equal(await a.emitWithAck("leave", "r"), true);
        const notA = never(a, "msg");
        const gotB2 = once(b, "msg");
        c.emit("publish", { room: "r", payload: 2 });
        assert.deepEqual(await gotB2, [2]);
        await notA;
        closeAll([a, b, c]);
      });

      it("carries a 500 KB payload both ways", async () => {
        const socket = await connect(server.url, { transports });
        const big = "x".repeat(500 * 1024);
        const blob = Buffer.alloc(500 * 1024, 7);
        assert.equal(await socket.emitWithAck("echo", big), big);
        assert.deepEqual(await socket.emitWithAck("echo", blob), blob);
        socket.close();
      });
    });
  }

  it("serves 50 concurrent clients on mixed transports", async () => {
    const sockets = await Promise.all(
      Array.from({ length: 50 }, (_, i) => connect(server.url, { transports: TRANSPORT_SETS[i % 3] })),
    );
    await Promise.all(sockets.map((s) => s.emitWithAck("join", "crowd")));
    const received = sockets.map((s) => once(s, "msg"));
    sockets[0].emit("publish", { room: "crowd", payload: "hello crowd" });
    for (const args of await Promise.all(received)) assert.deepEqual(args, ["hello crowd"]);
    const echoes = await Promise.all(sockets.map((s, i) => s.emitWithAck("echo", i)));
    assert.deepEqual(echoes, sockets.map((_, i) => i));
    closeAll(sockets);
  });

  it("keeps per-client order for a burst of acknowledged events", async () => {
    const socket = await connect(server.url, { transports: ["websocket"] });
    const order = [];
    await Promise.all(
      Array.from({ length: 500 }, (_, i) => new Promise((resolve) => socket.emit("echo", i, (n) => (order.push(n), resolve())))),
    );
    assert.deepEqual(order, Array.from({ length: 500 }, (_, i) => i));
    socket.close();
  });

  it("runs the chat demo on /chat", async () => {
    const ann = await connect(`${server.url}/chat`, { auth: { name: "ann" } });
    const bob = await connect(`${server.url}/chat`, { auth: { name: "bob" } });
    const typing = once(ann, "typing");
    bob.emit("typing", true);
    assert.deepEqual((await typing)[0], { name: "bob", typing: true });
    const line = once(bob, "chat message");
    ann.emit("chat message", "hello");
    assert.deepEqual((await line)[0], { name: "ann", room: "lobby", text: "hello" });
    assert.equal(await bob.timeout(2000).emitWithAck("join room", "side"), "side");
    const notBob = never(bob, "chat message");
    ann.emit("chat message", "lobby only");
    await notBob;
    closeAll([ann, bob]);
  });
});

describe("switchyard node shutdown", () => {
  it("disconnects clients with 'io server disconnect' semantics on SIGTERM and exits 0", async () => {
    const server = await startServer(binaries.node);
    const socket = await connect(server.url, { transports: ["websocket"] });
    const disconnected = once(socket, "disconnect");
    const exit = await server.stop("SIGTERM");
    assert.equal(exit.code, 0);
    const [reason] = await disconnected;
    assert.ok(["transport close", "io server disconnect"].includes(reason), reason);
  });

  it("refuses a port that is taken, with a clear error", async () => {
    const first = await startServer(binaries.node);
    const { spawnSync } = await import("node:child_process");
    const second = spawnSync(binaries.node, ["--port", String(first.port)], { encoding: "utf8", timeout: 5000 });
    assert.notEqual(second.status, 0);
    assert.match(second.stderr, /cannot listen on 127\.0\.0\.1:\d+/);
    await first.stop();
  });
});
