// The server API end to end (core/examples/features.rs) with the official
// client, for both wire formats: namespaces, auth and middleware refusal,
// acknowledgements both ways with timeouts, binary, rooms and broadcast
// operators, fetch/join/leave/disconnect, and disconnect reasons.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import msgpackParser from "socket.io-msgpack-parser";
import { io } from "socket.io-client";
import { binaries, startServer, connect, once, never, closeAll, TRANSPORT_SETS } from "./helpers.mjs";

const PARSERS = [
  { name: "json", env: {}, opts: {} },
  { name: "msgpack", env: { PARSER: "msgpack" }, opts: { parser: msgpackParser } },
];

for (const parser of PARSERS) {
  describe(`features (${parser.name} parser)`, () => {
    let server;
    const clients = [];
    const open = async (path = "", opts = {}) => {
      const s = await connect(`${server.url}${path}`, { ...parser.opts, ...opts });
      clients.push(s);
      return s;
    };
    before(async () => {
      server = await startServer(binaries.features, { env: { ...parser.env, PING_INTERVAL: "300", PING_TIMEOUT: "300" } });
    });
    after(async () => {
      closeAll(clients);
      await server.stop();
    });

    it("admits a namespace through its middleware, refuses with message and data", async () => {
      await assert.rejects(open("/private", { auth: { token: "wrong" } }), (err) => {
        assert.equal(err.message, "unauthorized");
        assert.deepEqual(err.data, { code: 401 });
        return true;
      });
      const ok = io(`${server.url}/private`, { ...parser.opts, forceNew: true, reconnection: false, auth: { token: "secret" } });
      clients.push(ok);
      // The data the middleware set is visible to the connection handler.
      const [welcome] = await once(ok, "welcome");
      assert.deepEqual(welcome, { trusted: true });
      await assert.rejects(open("/nowhere"), /Invalid namespace/);
    });

    for (const transports of TRANSPORT_SETS) {
      it(`acknowledges both ways with timeouts over ${transports.join("+")}`, async () => {
        const socket = await open("", { transports });
        socket.on("question", (q, ack) => ack("yes", q, { blob: Buffer.from([1, 2]) }));
        const reply = await socket.timeout(3000).emitWithAck("ask-me", 2000);
        assert.deepEqual(reply, { answer: ["yes", "ready?", { blob: Buffer.from([1, 2]) }] });
        socket.off("question");
        socket.on("question", () => {}); // never answers
        const timedOut = await socket.timeout(3000).emitWithAck("ask-me", 200);
        assert.deepEqual(timedOut, { error: "operation has timed out" });
        // The client's own timeout when the server does not answer.
        await assert.rejects(socket.timeout(200).emitWithAck("no-such-event"), /operation has timed out/);
      });
    }

    it("collects acknowledgements from every client of a broadcast, or the partial list", async () => {
      const [a, b] = [await open(), await open()];
      const others = clients.filter((c) => c !== a && c !== b && c.connected && c.nsp === "/");
      for (const c of others) c.on("poll", (ack) => ack("other"));
      a.on("poll", (ack) => ack("a"));
      b.on("poll", (ack) => ack("b"));
      const all = await a.timeout(3000).emitWithAck("poll-everyone", 2000);
      assert.deepEqual([...all.responses].filter((r) => r !== "other").sort(), ["a", "b"]);
      b.off("poll");
      b.on("poll", () => {}); // silent
      const partial = await a.timeout(3000).emitWithAck("poll-everyone", 300);
      assert.equal(partial.error.startsWith("operation has timed out"), true, partial.error);
      assert.ok(partial.responses.includes("a") && !partial.responses.includes("b"));
    });

    it("broadcasts to rooms, except rooms, and to everyone but the sender", async () => {
      const [a, b, c] = [await open(), await open(), await open()];
      await a.emitWithAck("join", ["red"]);
      await b.emitWithAck("join", ["red", "blue"]);
      await c.emitWithAck("join", ["blue"]);

      let gotA = once(a, "hi"), gotB = once(b, "hi"), notC = never(c, "hi");
      assert.equal(await c.emitWithAck("emit", { to: ["red"] }, "hi", { bin: Buffer.from([9]) }), true);
      assert.deepEqual((await gotA)[0], { bin: Buffer.from([9]) });
      assert.deepEqual((await gotB)[0], { bin: Buffer.from([9]) });
      await notC;

      gotA = once(a, "hi");
      let notB = never(b, "hi");
      notC = never(c, "hi");
      await c.emitWithAck("emit", { to: ["red"], except: ["blue"] }, "hi", 1);
      assert.deepEqual(await gotA, [1]);
      await Promise.all([notB, notC]);

      // socket.broadcast.to("blue"): b hears it, c (the sender) does not.
      gotB = once(b, "hi");
      notC = never(c, "hi");
      await c.emitWithAck("emit", { to: ["blue"], broadcast: true }, "hi", 2);
      assert.deepEqual(await gotB, [2]);
      await notC;

      // to two rooms: b is in both and hears it once.
      const heard = [];
      b.on("twice", (n) => heard.push(n));
      gotA = once(a, "twice");
      const gotC = once(c, "twice");
      await a.emitWithAck("emit", { to: ["red", "blue"] }, "twice", 3);
      await Promise.all([gotA, gotC]);
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(heard, [3]);
    });

    it("fetches, joins, removes and disconnects sockets by targeting", async () => {
      const [a, b] = [await open("", { auth: { who: "a" } }), await open("", { auth: { who: "b" } })];
      await a.emitWithAck("set-data", { level: 3 });
      await a.emitWithAck("join", ["team"]);
      await b.emitWithAck("join", ["team"]);
      const team = await a.emitWithAck("fetch", { to: ["team"] });
      assert.deepEqual(team.map((s) => s.id).sort(), [a.id, b.id].sort());
      const found = team.find((s) => s.id === a.id);
      assert.deepEqual(found.data, { level: 3 });
      assert.deepEqual(found.auth, { who: "a" });
      assert.deepEqual(found.rooms, [a.id, "team"].sort());

      await a.emitWithAck("sockets-join", { to: ["team"] }, "newroom");
      assert.equal((await a.emitWithAck("fetch", { to: ["newroom"] })).length, 2);
      await a.emitWithAck("sockets-leave", { to: [b.id] }, "newroom");
      assert.deepEqual((await a.emitWithAck("fetch", { to: ["newroom"] })).map((s) => s.id), [a.id]);

      const bGone = once(b, "disconnect");
      await a.emitWithAck("disconnect-sockets", { to: [b.id] }, false);
      assert.equal((await bGone)[0], "io server disconnect");
    });

    it("reports disconnect reasons as Node does", async () => {
      const observer = await open();
      const reasonOf = async (id) => {
        for (let i = 0; i < 50; i++) {
          const entry = (await observer.emitWithAck("disconnect-reasons")).find((r) => r.id === id);
          if (entry) return entry.reason;
          await new Promise((r) => setTimeout(r, 50));
        }
        throw new Error(`no reason recorded for ${id}`);
      };
      const leaver = await open();
      const id1 = leaver.id;
      leaver.disconnect();
      assert.equal(await reasonOf(id1), "client namespace disconnect");

      const kicked = await open();
      const id2 = kicked.id;
      const gone = once(kicked, "disconnect");
      kicked.emit("disconnect-me", false);
      assert.equal((await gone)[0], "io server disconnect");
      assert.equal(await reasonOf(id2), "server namespace disconnect");

      const closer = await open("", { transports: ["websocket"] });
      const id3 = closer.id;
      closer.io.engine.close();
      assert.equal(await reasonOf(id3), "transport close");

      const silent = await open("", { transports: ["websocket"] });
      const id4 = silent.id;
      // Stop answering pings (engine.io-client sends pongs through
      // _sendPacket): the server drops the client.
      const engine = silent.io.engine;
      const send = engine._sendPacket.bind(engine);
      engine._sendPacket = (type, ...rest) => (type === "pong" ? undefined : send(type, ...rest));
      assert.equal(await reasonOf(id4), "ping timeout");
    });
  });
}
