// permessage-deflate (`--per-message-deflate`) with the official client in
// Node.js (its `ws` offers the extension) and in Chromium, text and binary,
// large and small; a compressed message that inflates past the message
// limit closes its connection with 1009 and the node goes on serving; a
// client that offers nothing still works; off by default. And gzip/deflate
// of polling responses (on by default above 1,024 bytes, as Node's
// `httpCompression`).
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { binaries, startServer, connect, closeAll, launchChromium } from "./helpers.mjs";

const LIMIT = 200_000;
const big = (n) => "chat message; ".repeat(Math.ceil(n / 14)).slice(0, n);

/** The bytes a socket.io-client WebSocket read from its TCP socket. */
const bytesRead = (socket) => socket.io.engine.transport.ws._socket.bytesRead;

/** A raw Engine.IO WebSocket; resolves once the open packet arrived. */
function rawSocket(url, options) {
  const ws = new WebSocket(`${url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket`, options);
  const messages = [];
  ws.on("message", (data, binary) => messages.push(binary ? data : data.toString()));
  return new Promise((resolve, reject) => {
    ws.once("error", reject);
    ws.once("message", () => resolve({ ws, messages }));
  });
}

describe("permessage-deflate", () => {
  let server;
  const clients = [];
  before(async () => {
    server = await startServer(binaries.features, {
      args: ["--per-message-deflate", "--max-http-buffer-size", String(LIMIT)],
    });
  });
  after(async () => {
    closeAll(clients);
    await server.stop();
  });

  it("is negotiated with the official client, and large messages travel compressed", async () => {
    const socket = await connect(server.url, { transports: ["websocket"] });
    clients.push(socket);
    const ws = socket.io.engine.transport.ws;
    assert.equal(ws.extensions, "permessage-deflate");
    const before = bytesRead(socket);
    const text = big(100_000);
    const bytes = Buffer.from(big(70_000));
    const [echoedText, echoedBytes] = await new Promise((resolve) => socket.emit("echo", text, bytes, (...args) => resolve(args)));
    assert.equal(echoedText, text);
    assert.ok(Buffer.from(echoedBytes).equals(bytes));
    const read = bytesRead(socket) - before;
    assert.ok(read < 10_000, `read ${read} bytes for 170,000 bytes of echo`);
    // Small messages (under the threshold) go as they are, and still work.
    assert.equal(await socket.emitWithAck("echo", "hi"), "hi");
  });

  it("sends uncompressed what is emitted with compress(false), to one socket or a room", async () => {
    const socket = await connect(server.url, { transports: ["websocket"] });
    clients.push(socket);
    const payload = big(50_000);
    const cost = async (target) => {
      const heard = new Promise((resolve) => socket.once("back", resolve));
      const before = bytesRead(socket);
      assert.equal(await socket.emitWithAck("emit", target, "back", payload), true);
      assert.equal(await heard, payload);
      return bytesRead(socket) - before;
    };
    assert.ok((await cost({ me: true })) < 5_000);
    assert.ok((await cost({ me: true, plain: true })) > 50_000);
    assert.ok((await cost({ to: [socket.id] })) < 5_000);
    assert.ok((await cost({ to: [socket.id], plain: true })) > 50_000);
  });

  it("closes with 1009 a message that inflates past the message limit", async () => {
    const { ws } = await rawSocket(server.url, { perMessageDeflate: { threshold: 0 } });
    assert.match(ws.extensions, /permessage-deflate/);
    const closed = new Promise((resolve) => ws.once("close", (code) => resolve(code)));
    // 50 MB of one letter: about 50 KB compressed, under the limit as sent.
    ws.send(`4${"a".repeat(50_000_000)}`, { compress: true });
    assert.equal(await closed, 1009);
    // The node goes on serving.
    const socket = await connect(server.url, { transports: ["websocket"] });
    clients.push(socket);
    assert.equal(await socket.emitWithAck("echo", big(5_000)), big(5_000));
  });

  it("serves a client that offers nothing, uncompressed", async () => {
    const { ws, messages } = await rawSocket(server.url, { perMessageDeflate: false });
    assert.equal(ws.extensions, "");
    ws.send("40");
    const payload = big(20_000);
    await new Promise((r) => setTimeout(r, 200));
    ws.send(`421["echo",${JSON.stringify(payload)}]`);
    for (let i = 0; i < 40 && !messages.some((m) => String(m).startsWith("431")); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(messages.find((m) => String(m).startsWith("431")), `431[${JSON.stringify(payload)}]`);
    ws.close();
  });

  it("works in Chromium, text and binary", async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const node = await startServer(binaries.node, { args: ["--per-message-deflate"] });
      try {
        await page.goto(`${node.url}/?name=probe`);
        const result = await page.evaluate(async () => {
          const socket = io("/", { transports: ["websocket"], forceNew: true });
          await new Promise((resolve) => socket.on("connect", resolve));
          const text = "chat message; ".repeat(8000);
          const bytes = new TextEncoder().encode(text.slice(0, 70000));
          const reply = await new Promise((resolve) => socket.emit("echo", text, bytes.buffer, (...args) => resolve(args)));
          const got = new Uint8Array(reply[1]);
          const extensions = socket.io.engine.transport.ws.extensions;
          socket.close();
          return { same: reply[0] === text, length: got.length, sameBytes: got.every((b, i) => b === bytes[i]), extensions };
        });
        assert.match(result.extensions, /permessage-deflate/);
        assert.ok(result.same);
        assert.equal(result.length, 70000);
        assert.ok(result.sameBytes);
      } finally {
        await node.stop();
      }
    } finally {
      await browser.close();
    }
  });

  it("is off by default", async () => {
    const plain = await startServer(binaries.features);
    try {
      const socket = await connect(plain.url, { transports: ["websocket"] });
      assert.equal(socket.io.engine.transport.ws.extensions, "");
      const before = bytesRead(socket);
      await socket.emitWithAck("echo", big(100_000));
      assert.ok(bytesRead(socket) - before > 100_000);
      socket.close();
    } finally {
      await plain.stop();
    }
  });
});

describe("compression of polling responses", () => {
  /** Opens a polling session, posts an echo of `payload`, and returns the answer's response. */
  async function echoOverPolling(url, acceptEncoding) {
    const base = `${url}/socket.io/?EIO=4&transport=polling`;
    const open = await (await fetch(base)).text();
    const sid = JSON.parse(open.slice(1)).sid;
    const session = `${base}&sid=${sid}`;
    await fetch(session, { method: "POST", body: "40" });
    await fetch(session); // the CONNECT reply
    const payload = big(5_000);
    await fetch(session, { method: "POST", body: `421["echo",${JSON.stringify(payload)}]` });
    const res = await fetch(session, { headers: { "accept-encoding": acceptEncoding } });
    return { res, expected: `431[${JSON.stringify(payload)}]` };
  }

  it("gzips a large payload for a client that accepts it, and not below the threshold or when off", async () => {
    const server = await startServer(binaries.features);
    const off = await startServer(binaries.features, { args: ["--http-compression-threshold", "0"] });
    try {
      for (const [encoding, expected] of [["gzip, deflate", "gzip"], ["deflate", "deflate"], ["identity", null]]) {
        const { res, expected: body } = await echoOverPolling(server.url, encoding);
        assert.equal(res.headers.get("content-encoding"), expected, encoding);
        assert.equal(await res.text(), body);
      }
      const { res, expected: body } = await echoOverPolling(off.url, "gzip");
      assert.equal(res.headers.get("content-encoding"), null);
      assert.equal(await res.text(), body);
      // A small answer (the handshake) goes as it is.
      const small = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`, { headers: { "accept-encoding": "gzip" } });
      assert.equal(small.headers.get("content-encoding"), null);
    } finally {
      await server.stop();
      await off.stop();
    }
  });
});
