// Socket.IO v2 clients (Engine.IO protocol v3) with `--allow-eio3`: the
// official socket.io-client@2 over polling, WebSocket, and polling then
// upgrade — echo with acknowledgements, binary both ways, a heartbeat the
// client drives, rooms, a broadcast reaching v2 and v4 clients, namespaces
// with a query as auth, middleware refusal, and a cluster over Redis.
// Without the flag, `EIO=3` is refused as before.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import ioV2 from "socket.io-client-v2";
import WebSocket from "ws";
import { createRequire } from "node:module";
import { binaries, startServer, connect, once, never, closeAll, launchChromium, TRANSPORT_SETS } from "./helpers.mjs";

const V2_BUNDLE = createRequire(import.meta.url).resolve("socket.io-client-v2/dist/socket.io.js");

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Connects a v2 client; resolves once connected, rejects on an error. */
function connectV2(url, opts = {}) {
  const socket = ioV2(url, { forceNew: true, reconnection: false, ...opts });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no v2 connection to ${url}`)), 5000);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve(socket);
    });
    const fail = (err) => {
      clearTimeout(timer);
      socket.close();
      reject(err instanceof Error ? err : Object.assign(new Error("refused"), { data: err }));
    };
    socket.once("connect_error", fail);
    socket.once("error", fail);
  });
}

/** Emits with an acknowledgement (v2 has no emitWithAck). */
function ask(socket, event, ...args) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ack for "${event}"`)), 5000);
    socket.emit(event, ...args, (...answer) => {
      clearTimeout(timer);
      resolve(answer);
    });
  });
}

describe("Socket.IO v2 clients", () => {
  it("are refused without --allow-eio3 (400, code 5)", async () => {
    const server = await startServer(binaries.features);
    try {
      const res = await fetch(`${server.url}/socket.io/?EIO=3&transport=polling`);
      assert.equal(res.status, 400);
      assert.deepEqual(await res.json(), { code: 5, message: "Unsupported protocol version" });
      await assert.rejects(connectV2(server.url, { transports: ["polling"] }));
    } finally {
      await server.stop();
    }
  });

  describe("with --allow-eio3", () => {
    let server;
    const clients = [];
    const keep = (s) => (clients.push(s), s);
    before(async () => {
      server = await startServer(binaries.features, {
        args: ["--allow-eio3"],
        env: { PING_INTERVAL: "300", PING_TIMEOUT: "300" },
      });
    });
    after(async () => {
      closeAll(clients);
      await server.stop();
    });

    it("hands out a v3 handshake in a length-prefixed payload", async () => {
      const res = await fetch(`${server.url}/socket.io/?EIO=3&transport=polling&b64=1`);
      assert.equal(res.status, 200);
      const body = await res.text();
      const match = /^(\d+):0(\{.*\})/.exec(body);
      assert.ok(match, body);
      const open = JSON.parse(match[2]);
      assert.equal(Number(match[1]), 1 + match[2].length);
      assert.deepEqual(Object.keys(open).sort(), ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"]);
      // The main namespace is joined at once: its CONNECT follows.
      assert.ok(body.endsWith("2:40"), body);
    });

    it("closes a v3 session whose client stops pinging, and keeps one that pings", async () => {
      const base = `${server.url}/socket.io/?EIO=3&transport=polling&b64=1`;
      const open = async () => JSON.parse(/^\d+:0(\{.*?\})/.exec(await (await fetch(base)).text())[1]).sid;
      const [silent, pinging] = [await open(), await open()];
      // Interval 300 ms + timeout 300 ms: 1.2 s is well past it.
      for (let i = 0; i < 6; i++) {
        const res = await fetch(`${base}&sid=${pinging}`, { method: "POST", body: "1:2" });
        assert.equal(res.status, 200);
        assert.equal(await (await fetch(`${base}&sid=${pinging}`)).text(), "1:3", "a pong answers the ping");
        await sleep(200);
      }
      const res = await fetch(`${base}&sid=${silent}`);
      assert.equal(res.status, 400, "the silent session timed out");
      assert.equal((await res.json()).code, 1);
    });

    for (const transports of TRANSPORT_SETS) {
      it(`echoes text and binary with acks, and stays up on the client's pings (${transports})`, async () => {
        const socket = keep(await connectV2(server.url, { transports }));
        // The client names its socket after the session: so does the server.
        assert.equal(socket.id, socket.io.engine.id);
        assert.deepEqual(await ask(socket, "echo", "héllo 😀", { n: 1 }), ["héllo 😀", { n: 1 }]);
        const [bytes, nested] = await ask(socket, "echo", Buffer.from([1, 2, 3]), { inner: Buffer.from([255, 0]) });
        assert.deepEqual([...bytes], [1, 2, 3]);
        assert.deepEqual([...nested.inner], [255, 0]);
        if (transports.length > 1) {
          await sleep(300);
          assert.equal(socket.io.engine.transport.name, "websocket");
        }
        // Several ping intervals: the client pings, the server answers.
        const closed = never(socket, "disconnect", 1500);
        await closed;
        assert.deepEqual(await ask(socket, "echo", "still here"), ["still here"]);
      });
    }

    for (const transports of [["websocket"], ["polling", "websocket"]]) {
      it(`sends binary as base64 text to a client that asks for it (forceBase64, ${transports})`, async () => {
        const socket = keep(await connectV2(server.url, { transports, forceBase64: true }));
        const [bytes] = await ask(socket, "echo", Buffer.from([0, 1, 254, 255]));
        assert.deepEqual([...bytes], [0, 1, 254, 255]);
      });
    }

    it("sends binary as b4+base64 text frames on a WebSocket opened with b64, raw frames otherwise", async () => {
      const frames = async (query) => {
        const ws = new WebSocket(`${server.url.replace("http", "ws")}/socket.io/?EIO=3&transport=websocket${query}`);
        const got = [];
        ws.on("message", (data, binary) => got.push({ binary, data: binary ? [...data] : data.toString() }));
        await new Promise((resolve) => ws.once("open", resolve));
        // The open packet and the main namespace's CONNECT, then an echo.
        for (let i = 0; i < 40 && got.length < 2; i++) await sleep(25);
        ws.send('451-1["echo",{"_placeholder":true,"num":0}]');
        ws.send(Buffer.from([4, 9, 8]));
        for (let i = 0; i < 40 && got.length < 4; i++) await sleep(25);
        ws.close();
        return got.slice(2);
      };
      assert.deepEqual(await frames("&b64=1"), [
        { binary: false, data: '461-1[{"_placeholder":true,"num":0}]' },
        { binary: false, data: "b4CQg=" },
      ]);
      assert.deepEqual(await frames(""), [
        { binary: false, data: '461-1[{"_placeholder":true,"num":0}]' },
        { binary: true, data: [4, 9, 8] },
      ]);
    });

    it("closes a v3 session whose client sends a pong (heartbeats go the other way)", async () => {
      const base = `${server.url}/socket.io/?EIO=3&transport=polling&b64=1`;
      const sid = JSON.parse(/^\d+:0(\{.*?\})/.exec(await (await fetch(base)).text())[1]).sid;
      await fetch(`${base}&sid=${sid}`, { method: "POST", body: "1:3" });
      const res = await fetch(`${base}&sid=${sid}`);
      assert.equal(res.status, 400, "the session is gone");
    });

    it("answers a browser-like client's binary POST with a binary payload", async () => {
      // No b64: the client takes binary; it posts application/octet-stream.
      const base = `${server.url}/socket.io/?EIO=3&transport=polling`;
      const open = await (await fetch(base)).text();
      const sid = JSON.parse(/^\d+:0(\{.*?\})/.exec(open)[1]).sid;
      const url = `${base}&sid=${sid}`;
      const event = Buffer.from('451-1["echo",{"_placeholder":true,"num":0}]');
      const digits = (n) => [...String(n)].map(Number);
      const body = Buffer.concat([
        Buffer.from([0, ...digits(event.length), 255]), event,
        Buffer.from([1, ...digits(4), 255, 4, 9, 8, 7]),
      ]);
      const posted = await fetch(url, { method: "POST", body, headers: { "content-type": "application/octet-stream" } });
      assert.equal(posted.status, 200);
      const answer = await fetch(url);
      assert.equal(answer.headers.get("content-type"), "application/octet-stream");
      // The binary ack as text, then its attachment after its type byte.
      const ack = Buffer.from('461-1[{"_placeholder":true,"num":0}]');
      assert.deepEqual(
        [...Buffer.from(await answer.arrayBuffer())],
        [0, ...digits(ack.length), 255, ...ack, 1, ...digits(4), 255, 4, 9, 8, 7],
      );
    });

    it("carries rooms and broadcasts between v2 and v4 clients, and sees v2 sockets by id", async () => {
      const room = `r-${randomBytes(3).toString("hex")}`;
      const old = keep(await connectV2(server.url, { transports: ["websocket"] }));
      const modern = keep(await connect(server.url, { transports: ["websocket"] }));
      const [rooms] = await ask(old, "join", [room]);
      assert.deepEqual(rooms.sort(), [old.id, room].sort());
      const heard = once(old, "to-room");
      const notModern = never(modern, "to-room");
      assert.equal(await modern.emitWithAck("emit", { to: [room] }, "to-room", { from: "v4" }), true);
      assert.deepEqual(await heard, [{ from: "v4" }]);
      await notModern;
      const both = [once(old, "everyone"), once(modern, "everyone")];
      assert.deepEqual(await ask(old, "emit", {}, "everyone", Buffer.from([7])), [true]);
      const [[toOld], [toModern]] = await Promise.all(both);
      assert.deepEqual([...toOld], [7]);
      assert.deepEqual([...toModern], [7]);
      const fetched = await modern.emitWithAck("fetch", { to: [room] });
      assert.deepEqual(fetched.map((s) => s.id), [old.id]);
    });

    it("connects another namespace with a query as auth, and reports a middleware's refusal", async () => {
      const main = keep(await connectV2(server.url, { transports: ["polling"] }));
      const url = `${server.url}/private`;
      const welcome = ioV2(url, { forceNew: true, reconnection: false, transports: ["polling"], query: { token: "secret" } });
      keep(welcome);
      const [data] = await once(welcome, "welcome");
      assert.deepEqual(data, { trusted: true });
      assert.equal(welcome.id, `/private#${welcome.io.engine.id}`);
      await assert.rejects(connectV2(url, { query: { token: "wrong" } }), (err) => {
        assert.deepEqual(err.data, { code: 401 });
        return true;
      });
      const unknown = ioV2(`${server.url}/nowhere`, { forceNew: true, reconnection: false });
      keep(unknown);
      // As Node answers it: the object, even to a v2 client.
      assert.deepEqual(await once(unknown, "error"), [{ message: "Invalid namespace" }]);
      assert.deepEqual(await ask(main, "echo", 1), [1]);
    });
  });

  describe("in Chromium", () => {
    let server;
    let browser;
    before(async () => {
      server = await startServer(binaries.node, { args: ["--allow-eio3"] });
      browser = await launchChromium();
    });
    after(async () => {
      await browser?.close();
      await server?.stop();
    });

    for (const transports of TRANSPORT_SETS) {
      it(`echoes text and binary from the browser's v2 client over ${transports.join("+")}`, async () => {
        const page = await browser.newPage();
        await page.goto(`${server.url}/?name=probe`);
        // The v2 bundle replaces the page's v4 client.
        await page.addScriptTag({ path: V2_BUNDLE });
        const result = await page.evaluate(async (transports) => {
          const socket = io("/", { transports, forceNew: true, reconnection: false });
          await new Promise((resolve) => socket.on("connect", resolve));
          const bytes = new Uint8Array(70000).map((_, i) => i % 251);
          const reply = await new Promise((resolve) =>
            socket.emit("echo", "ünïcödé ✓ 😀", { nested: [bytes.buffer] }, (...args) => resolve(args)),
          );
          const got = new Uint8Array(reply[1].nested[0]);
          const transport = socket.io.engine.transport.name;
          socket.close();
          return { first: reply[0], length: got.length, same: got.every((b, i) => b === i % 251), transport };
        }, transports);
        assert.equal(result.first, "ünïcödé ✓ 😀");
        assert.equal(result.length, 70000);
        assert.ok(result.same);
        await page.close();
      });
    }
  });

  describe("in a cluster over Redis", () => {
    const prefix = `eio3-${randomBytes(4).toString("hex")}`;
    let nodes = [];
    const clients = [];
    before(async () => {
      nodes = await Promise.all(
        [0, 1].map(() =>
          startServer(binaries.features, {
            args: ["--allow-eio3", "--adapter", "redis", "--prefix", prefix, "--heartbeat-interval", "300"],
          }),
        ),
      );
    });
    after(async () => {
      closeAll(clients);
      await Promise.all(nodes.map((n) => n.stop()));
    });

    it("delivers a broadcast from one node to a v2 client on the other, and finds it", async () => {
      const room = `r-${randomBytes(3).toString("hex")}`;
      const old = await connectV2(nodes[0].url, { transports: ["polling", "websocket"] });
      clients.push(old);
      const modern = await connect(nodes[1].url, { transports: ["websocket"] });
      clients.push(modern);
      await ask(old, "join", [room]);
      let found = [];
      for (let i = 0; i < 40 && found.length === 0; i++) {
        found = await modern.emitWithAck("fetch", { to: [room] });
        if (found.length === 0) await sleep(100);
      }
      assert.deepEqual(found.map((s) => s.id), [old.id]);
      const heard = once(old, "across");
      assert.equal(await modern.emitWithAck("emit", { to: [room] }, "across", Buffer.from([1, 2])), true);
      const [bytes] = await heard;
      assert.deepEqual([...bytes], [1, 2]);
    });
  });
});
