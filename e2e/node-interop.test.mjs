// A mixed cluster on one Redis: a Node.js Socket.IO 4.8 server with
// @socket.io/redis-adapter 8.3 (e2e/node-ops-server.mjs) and a switchyard
// node in its default Redis format, official clients on both. Every
// operation in both directions; binary payloads; dates and nested objects;
// @socket.io/redis-emitter 5.1 and switchyard's Rust Emitter reaching both;
// malformed messages on the adapter's channels logged and skipped.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "redis";
import { Emitter } from "@socket.io/redis-emitter";
import { binaries, startServer, connect, once, never, closeAll } from "./helpers.mjs";

const REQUEST_TIMEOUT = 2000;
const here = path.dirname(fileURLToPath(import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const LABELS = { sy: "sy", js: "js" };

// Three times: with responses on the shared channel (Node's default), on
// each requester's own (`publishOnSpecificResponseChannel`), and with Node's
// sharded adapter (`createShardedAdapter`, SPUBLISH/SSUBSCRIBE, which one
// Redis 7 serves too; the Redis Cluster case is in broker-clusters.test.mjs).
// Emitters speak classic pub/sub only: their tests run in the classic modes.
for (const mode of ["classic", "specific", "sharded"]) {
const specific = mode === "specific";
const sharded = mode === "sharded";
const classicOnly = sharded ? it.skip : it;
describe(`a Node.js server and a switchyard node on one Redis${specific ? ", responses on specific channels" : ""}${sharded ? ", Node's sharded adapter" : ""}`, () => {
  const prefix = `interop-${randomBytes(4).toString("hex")}`;
  const servers = {};
  const clients = [];
  let redis;
  const open = async (server, nsp = "/ops", opts = {}) => {
    const socket = await connect(`${servers[server].url}${nsp}`, { transports: ["websocket"], ...opts });
    clients.push(socket);
    return socket;
  };
  const joined = async (server, rooms, opts) => {
    const socket = await open(server, "/ops", opts);
    if (rooms.length) await socket.emitWithAck("join", rooms);
    return socket;
  };

  before(async () => {
    [servers.sy, servers.js] = await Promise.all([
      startServer(binaries.node, {
        args: [
          "--adapter", "redis", "--ops", "--prefix", prefix, "--node-id", LABELS.sy, "--request-timeout", String(REQUEST_TIMEOUT),
          ...(specific ? ["--redis-specific-response-channel"] : []),
          ...(sharded ? ["--redis-format", "node", "--redis-sharded"] : []),
        ],
        captureLog: true,
      }),
      startServer(process.execPath, {
        args: [path.join(here, "node-ops-server.mjs")],
        env: {
          PREFIX: prefix, LABEL: LABELS.js, REQUEST_TIMEOUT: String(REQUEST_TIMEOUT),
          SPECIFIC_RESPONSE_CHANNEL: specific ? "1" : "", SHARDED: sharded ? "1" : "",
        },
      }),
    ]);
    redis = createClient({ url: "redis://127.0.0.1:6379" });
    await redis.connect();
  });

  after(async () => {
    closeAll(clients);
    await redis?.quit();
    await Promise.all(Object.values(servers).map((s) => s.stop()));
  });

  it("each server counts the other (serverCount)", async () => {
    for (const server of ["sy", "js"]) {
      const probe = await open(server);
      for (let tries = 0; ; tries++) {
        const { label, servers: count } = await probe.emitWithAck("node");
        assert.equal(label, LABELS[server]);
        if (count === 2) break;
        assert.ok(tries < 100, `${server} counts ${count} servers`);
        await sleep(50);
      }
    }
  });

  for (const [from, to] of [["sy", "js"], ["js", "sy"]]) {
    describe(`from the ${from} server to the ${to} server`, () => {
      it("broadcasts to all, to a room, to rooms and except rooms, with binary and nested payloads", async () => {
        const publisher = await open(from);
        const near = await joined(from, ["r"]);
        const a = await joined(to, ["r"]);
        const b = await joined(to, ["r", "vip"]);
        const c = await joined(to, []);
        const payload = {
          bin: Buffer.from([0, 1, 2, 255]),
          nested: { list: [1, "two", { three: null, deeper: [true, false] }], float: 1.5, neg: -3, big: 2 ** 40, text: "é✓" },
        };
        let got = [publisher, near, a, b, c].map((s) => once(s, "all"));
        assert.equal(await publisher.emitWithAck("emit", {}, "all", payload), true);
        for (const args of await Promise.all(got)) assert.deepEqual(args, [payload]);

        got = [near, a, b].map((s) => once(s, "room"));
        let silent = never(c, "room");
        await publisher.emitWithAck("emit", { to: ["r"] }, "room", "r only");
        for (const args of await Promise.all(got)) assert.deepEqual(args, ["r only"]);
        await silent;

        got = [near, a].map((s) => once(s, "except"));
        silent = Promise.all([never(b, "except"), never(c, "except")]);
        await publisher.emitWithAck("emit", { to: ["r"], except: ["vip"] }, "except", { bin: Buffer.from("x") });
        for (const args of await Promise.all(got)) assert.deepEqual(args, [{ bin: Buffer.from("x") }]);
        await silent;

        // Two rooms: members of both get it once; everyone but vips.
        const counts = new Map();
        for (const s of [near, a, b, c]) s.on("multi", () => counts.set(s.id, (counts.get(s.id) ?? 0) + 1));
        await publisher.emitWithAck("emit", { to: ["r", "vip"] }, "multi", 1);
        await publisher.emitWithAck("emit", { except: ["vip"] }, "multi", 2);
        await sleep(400);
        assert.deepEqual([near, a, b, c].map((s) => counts.get(s.id) ?? 0), [2, 2, 1, 1]);
      });

      it("collects acknowledgements from clients on both servers", async () => {
        const mine = await open(from);
        const theirs = await open(to);
        // Every /ops client of this suite answers polls, naming its server.
        for (const s of clients) if (!s.listeners("poll").length) s.on("poll", (ack) => ack(s.io.uri.includes(String(servers.sy.port)) ? "sy" : "js"));
        const connected = clients.filter((s) => s.connected && s.nsp === "/ops").length;
        const reply = await mine.timeout(5000).emitWithAck("poll-everyone", 3000);
        assert.equal(reply.error, undefined, JSON.stringify(reply));
        assert.equal(reply.responses.length, connected);
        assert.ok(reply.responses.includes("sy") && reply.responses.includes("js"), JSON.stringify(reply.responses));
        assert.ok(theirs.connected);
      });

      it("fetches, joins, removes and disconnects the other server's sockets", async () => {
        const caller = await open(from);
        const x = await open(to, "/ops", { auth: { who: "x" } });
        await x.emitWithAck("set-data", { on: to, list: [1, 2] });
        await x.emitWithAck("join", ["team"]);
        const team = await caller.emitWithAck("fetch", { to: ["team"] });
        assert.deepEqual(team, [{ id: x.id, rooms: [x.id, "team"].sort(), data: { on: to, list: [1, 2] }, auth: { who: "x" } }]);

        await caller.emitWithAck("sockets-join", { to: ["team"] }, "joined");
        await sleep(200);
        assert.deepEqual((await x.emitWithAck("join", [])).sort(), [x.id, "joined", "team"].sort());
        assert.deepEqual((await caller.emitWithAck("fetch", { to: ["joined"] })).map((s) => s.id), [x.id]);
        await caller.emitWithAck("sockets-leave", { to: [x.id] }, "joined");
        await sleep(200);
        assert.deepEqual(await caller.emitWithAck("fetch", { to: ["joined"] }), []);

        const gone = once(x, "disconnect");
        await caller.emitWithAck("disconnect-sockets", { to: ["team"] }, false);
        assert.equal((await gone)[0], "io server disconnect");
      });

      it("emits to the other server and gets its answer (serverSideEmit with acks)", async () => {
        const caller = await open(from);
        const reply = await caller.timeout(5000).emitWithAck("server-side-emit", ["ping", { n: 42 }], 3000);
        assert.equal(reply.error, undefined, JSON.stringify(reply));
        assert.deepEqual(reply.responses, [{ node: LABELS[to], args: ["ping", { n: 42 }] }]);
      });
    });
  }

  it("delivers a Node server's dates and nested objects to clients on both servers alike", async () => {
    const publisher = await open("js");
    const onSy = await open("sy");
    const onJs = await open("js");
    const got = [onSy, onJs].map((s) => once(s, "dated"));
    await publisher.emitWithAck("emit-dated", {});
    const [[fromSy], [fromJs]] = await Promise.all(got);
    assert.deepEqual(fromSy, fromJs);
    assert.deepEqual(fromSy, { at: "2026-11-25T09:46:40.123Z", nested: { list: [1, "two", { three: null }], big: 2 ** 40 } });
  });

  classicOnly("accepts everything @socket.io/redis-emitter sends", async () => {
    const emitter = new Emitter(redis, { key: prefix }).of("/ops");
    const s1 = await joined("sy", ["r"]);
    const s2 = await joined("js", ["r"]);
    const s3 = await joined("sy", []);
    const s4 = await joined("js", ["r", "x"]);
    const all = [s1, s2, s3, s4];
    await sleep(200);

    let got = all.map((s) => once(s, "e1"));
    emitter.emit("e1", { n: 1, bin: Buffer.from([7, 8]), at: new Date(0) });
    for (const args of await Promise.all(got)) assert.deepEqual(args, [{ n: 1, bin: Buffer.from([7, 8]), at: "1970-01-01T00:00:00.000Z" }]);

    got = [s1, s2].map((s) => once(s, "e2"));
    let silent = Promise.all([never(s3, "e2"), never(s4, "e2")]);
    emitter.to("r").except("x").emit("e2", 2);
    for (const args of await Promise.all(got)) assert.deepEqual(args, [2]);
    await silent;

    emitter.to("r").socketsJoin("y");
    await sleep(200);
    got = [s1, s2, s4].map((s) => once(s, "e3"));
    silent = never(s3, "e3");
    emitter.to("y").emit("e3", 3);
    for (const args of await Promise.all(got)) assert.deepEqual(args, [3]);
    await silent;

    emitter.in("y").socketsLeave("y");
    await sleep(200);
    silent = Promise.all(all.map((s) => never(s, "e4")));
    emitter.to("y").emit("e4", 4);
    await silent;

    got = all.map((s) => once(s, "relayed"));
    emitter.serverSideEmit("ops-relay", "from the emitter", { k: [1] });
    for (const args of await Promise.all(got)) assert.deepEqual(args, ["from the emitter", { k: [1] }]);

    const gone = [s3, s4].map((s) => once(s, "disconnect"));
    emitter.in(s3.id).disconnectSockets();
    emitter.in(s4.id).disconnectSockets(true);
    assert.deepEqual((await Promise.all(gone)).map((args) => args[0]), ["io server disconnect", "io server disconnect"]);
    assert.ok(s1.connected && s2.connected);
  });

  classicOnly("the Rust Emitter (switchyard_redis::Emitter) reaches clients on both servers", async () => {
    const emit = (...args) =>
      new Promise((resolve, reject) => {
        const child = spawn(binaries.redisEmitter, ["--prefix", prefix, "--ns", "/ops", ...args], { stdio: ["ignore", "pipe", "inherit"] });
        let out = "";
        child.stdout.on("data", (d) => (out += d));
        child.on("exit", (code) => (code === 0 && out.trim() === "sent" ? resolve() : reject(new Error(`emit ${args.join(" ")}: exit ${code}`))));
      });
    const s1 = await joined("sy", ["job"]);
    const s2 = await joined("js", ["job"]);
    const s3 = await joined("js", ["job", "muted"]);
    await sleep(200);

    let got = [s1, s2].map((s) => once(s, "file ready"));
    const silent = never(s3, "file ready");
    await emit("--to", "job", "--except", "muted", "emit", "file ready", '{"file":"report.pdf","pages":[1,2]}');
    for (const args of await Promise.all(got)) assert.deepEqual(args, [{ file: "report.pdf", pages: [1, 2] }]);
    await silent;

    await emit("--to", "muted", "join", "vip");
    await sleep(200);
    got = [once(s3, "vip")];
    await emit("--to", "vip", "emit", "vip", "1");
    assert.deepEqual(await got[0], [1]);

    got = [s1, s2, s3].map((s) => once(s, "relayed"));
    await emit("server-emit", "ops-relay", '"job done"');
    for (const args of await Promise.all(got)) assert.deepEqual(args, ["job done"]);

    const gone = [s1, s2].map((s) => once(s, "disconnect"));
    await emit("--to", "job", "--except", "muted", "disconnect");
    assert.deepEqual((await Promise.all(gone)).map((args) => args[0]), ["io server disconnect", "io server disconnect"]);
  });

  classicOnly("logs and skips malformed messages on the adapter's channels", async () => {
    // Counted one by one; logged at most once every few seconds.
    const skippedCount = async () => {
      const text = await (await fetch(`${servers.sy.url}/metrics`)).text();
      return Number(/^switchyard_cluster_skipped_messages_total\{[^}]*\} (\d+)$/m.exec(text)?.[1] ?? NaN);
    };
    const skippedBefore = await skippedCount();
    // A misbehaving process. The broadcast channel is /chat's, which only
    // switchyard serves (Node's adapter throws on undecodable broadcasts);
    // Node's adapter ignores all of these requests and responses.
    const garbage = [
      [`${prefix}#/chat#`, Buffer.from([0xc1])],
      [`${prefix}#/chat#`, Buffer.from([0x93, 0xa1])],
      [`${prefix}#/chat#`, Buffer.from([0x92, 0x01, 0x02])],
      [`${prefix}#/chat#`, Buffer.from("not msgpack at all")],
      [`${prefix}-request#/ops#`, "{not json"],
      [`${prefix}-request#/ops#`, '{"type":99}'],
      [`${prefix}-request#/ops#`, '{"type":2}'],
      [`${prefix}-request#/ops#`, Buffer.from([0xc1])],
      [`${prefix}-response#/ops#`, '{"sockets":[]}'],
      [`${prefix}-response#/ops#`, "[1,2]"],
    ];
    for (const [channel, message] of garbage) await redis.publish(channel, message);

    // Both servers go on serving the cluster.
    const chat = await open("sy", "/chat");
    const still = once(chat, "still");
    new Emitter(redis, { key: prefix }).of("/chat").emit("still", "working");
    assert.deepEqual(await still, ["working"]);
    for (const server of ["sy", "js"]) {
      const probe = await open(server);
      const sockets = await probe.emitWithAck("fetch", {});
      assert.ok(!sockets[0]?.error, JSON.stringify(sockets[0]));
      assert.equal((await probe.emitWithAck("node")).servers, 2);
    }
    assert.equal((await skippedCount()) - skippedBefore, garbage.length, servers.sy.log().slice(-3000));
    assert.match(servers.sy.log(), /skipping a malformed cluster message/);
  });

  (sharded ? it : it.skip)("logs and skips malformed messages on the sharded adapter's channels", async () => {
    const skippedCount = async () => {
      const text = await (await fetch(`${servers.sy.url}/metrics`)).text();
      return Number(/^switchyard_cluster_skipped_messages_total\{[^}]*\} (\d+)$/m.exec(text)?.[1] ?? NaN);
    };
    const skippedBefore = await skippedCount();
    // Both servers hear these; Node's adapter drops what it cannot decode
    // and ignores messages of no namespace.
    const garbage = [Buffer.from([0xc1]), "{not json", '{"type":3}', Buffer.from("not msgpack at all"), "[1,2]"];
    for (const message of garbage) await redis.sPublish(`${prefix}#/ops#`, message);
    for (let i = 0; (await skippedCount()) - skippedBefore < garbage.length && i < 100; i++) await sleep(50);
    assert.equal((await skippedCount()) - skippedBefore, garbage.length, servers.sy.log().slice(-3000));
    for (const server of ["sy", "js"]) {
      const probe = await open(server);
      const sockets = await probe.emitWithAck("fetch", {});
      assert.ok(!sockets[0]?.error, JSON.stringify(sockets[0]));
      assert.equal((await probe.emitWithAck("node")).servers, 2);
    }
  });
});
}
