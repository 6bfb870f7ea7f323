#!/usr/bin/env node
// Writes the fuzz targets' seed corpora (fuzz/seeds/<target>/) from real
// traffic: packets as the official JavaScript encoders write them
// (engine.io-parser, socket.io-parser, socket.io-msgpack-parser, the
// `@socket.io/redis-adapter` wire format), WebSocket frames as a client
// masks them, and the cluster messages and recovery records two live
// Switchyard nodes put in Redis while official clients talk to them.
//
//   node fuzz/seeds.mjs      (needs the debug build and Redis on 127.0.0.1:6379)
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { encodePayload } from "engine.io-parser";
import { Encoder as JsonEncoder } from "socket.io-parser";
import msgpackParser from "socket.io-msgpack-parser";
import notepack from "notepack.io";
import { createClient, commandOptions } from "redis";
import { binaries, connect, startServer } from "../e2e/helpers.mjs";

const SEEDS = path.join(path.dirname(fileURLToPath(import.meta.url)), "seeds");
const seeds = {};
function seed(target, bytes) {
  (seeds[target] ??= []).push(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes));
}

// Engine.IO long-polling payloads.
const payloads = [
  [{ type: "message", data: "40" }],
  [{ type: "message", data: '42["echo","hi",{"n":1}]' }, { type: "ping" }, { type: "message", data: Buffer.from([1, 2, 3]) }],
  [{ type: "pong" }, { type: "close" }],
  [{ type: "message", data: "é€😀" }, { type: "noop" }],
];
for (const packets of payloads) {
  seed("polling_payload", await new Promise((resolve) => encodePayload(packets, resolve)));
}

// Socket.IO packets, default parser: the text, then 0xff and each attachment.
const P = { CONNECT: 0, DISCONNECT: 1, EVENT: 2, ACK: 3, CONNECT_ERROR: 4, BINARY_EVENT: 5, BINARY_ACK: 6 };
const packets = [
  { type: P.CONNECT, nsp: "/", data: { token: "abc", pid: "x", offset: "1-0" } },
  { type: P.CONNECT, nsp: "/chat" },
  { type: P.DISCONNECT, nsp: "/chat" },
  { type: P.EVENT, nsp: "/", data: ["publish", { room: "r", payload: { s: 12 } }] },
  { type: P.EVENT, nsp: "/", id: 7, data: ["echo", "ünïcödé", [1, 2.5, null, true, { a: [] }]] },
  { type: P.ACK, nsp: "/admin", id: 3, data: [{ users: { ann: 2 } }] },
  { type: P.CONNECT_ERROR, nsp: "/", data: { message: "not authorized", data: { code: 4 } } },
  { type: P.EVENT, nsp: "/", id: 9, data: ["upload", Buffer.from([0, 1, 2, 255]), { nested: [Buffer.from("abc")] }] },
  { type: P.ACK, nsp: "/", id: 4, data: [Buffer.alloc(16, 7)] },
];
const json = new JsonEncoder();
for (const packet of packets) {
  const [head, ...attachments] = json.encode(packet);
  seed("socketio_json", Buffer.concat([Buffer.from(head), ...attachments.flatMap((a) => [Buffer.from([0xff]), Buffer.from(a)])]));
}
const msgpack = new msgpackParser.Encoder();
for (const packet of packets) {
  for (const frame of msgpack.encode(packet)) seed("socketio_msgpack", Buffer.from(frame));
}

// WebSocket frames as a client sends them (masked): text, binary,
// fragmented with a ping between the fragments, close.
function frame(opcode, payload, fin = true) {
  const data = Buffer.from(payload);
  const mask = randomBytes(4);
  const len = data.length;
  const head = len < 126 ? Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | len])
    : len < 65536 ? Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | 126, len >> 8, len & 0xff])
    : Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(len)); return b; })()]);
  return Buffer.concat([head, mask, data.map((b, i) => b ^ mask[i % 4])]);
}
seed("ws_frames", frame(1, '42["echo","hi"]'));
seed("ws_frames", Buffer.concat([frame(1, "2probe"), frame(1, "5")]));
seed("ws_frames", frame(2, Buffer.alloc(300, 9)));
seed("ws_frames", Buffer.concat([frame(1, "42[\"a", false), frame(9, "ping"), frame(0, "\"]", true)]));
seed("ws_frames", frame(8, Buffer.from([0x03, 0xe8, 0x62, 0x79, 0x65])));

// Node's @socket.io/redis-adapter: broadcasts ([uid, packet, opts]) on the
// namespace channel, requests and responses as msgpack on theirs.
const uid = "a1b2c3";
seed("cluster_node_format", Buffer.concat([Buffer.from([0]), notepack.encode([uid, { type: 2, data: ["msg", { s: 1 }], nsp: "/" }, { rooms: ["r"], except: ["x"], flags: {} }])]));
seed("cluster_node_format", Buffer.concat([Buffer.from([1]), notepack.encode([uid, { type: 2, data: ["bin", Buffer.from([1, 2])], nsp: "/" }, { rooms: [], except: [], flags: { volatile: true } }])]));
seed("cluster_node_format", Buffer.concat([Buffer.from([2]), notepack.encode({ uid, requestId: "r1", type: 0, opts: { rooms: ["r"], except: [] } })]));
seed("cluster_node_format", Buffer.concat([Buffer.from([2]), Buffer.from(JSON.stringify({ uid, requestId: "r2", type: 4, opts: { rooms: [], except: [] }, rooms: ["joined"] }))]));
seed("cluster_node_format", Buffer.concat([Buffer.from([3]), notepack.encode({ requestId: "r1", sockets: [{ id: "s1", handshake: {}, rooms: ["s1"], data: {} }] })]));

// Switchyard's own cluster messages and the recovery records, from two
// live nodes over Redis with official clients.
const prefix = `seeds-${randomBytes(3).toString("hex")}`;
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const sub = createClient({ url: redisUrl });
const redis = createClient({ url: redisUrl });
await Promise.all([sub.connect(), redis.connect()]);
const captured = [];
await sub.pSubscribe(`${prefix}*`, (message) => captured.push(Buffer.from(message)), true);
const args = ["--adapter", "redis", "--redis-format", "switchyard", "--prefix", prefix, "--recovery", "--heartbeat-interval", "300"];
const nodes = await Promise.all([0, 1].map(() => startServer(binaries.node, { args })));
try {
  await sleep(700);
  const [ann, bob] = await Promise.all([connect(nodes[0].url, { auth: { user: "ann" } }), connect(nodes[1].url)]);
  await ann.emitWithAck("join", "room");
  await bob.emitWithAck("join", "room");
  const got = new Promise((resolve) => bob.once("msg", resolve));
  ann.emit("publish", { room: "room", payload: { s: 1, bytes: Buffer.from([1, 2, 3]) } });
  await got;
  await ann.emitWithAck("presence");
  bob.io.engine.close(); // lost, not left: its session is kept for recovery
  await sleep(500);
  ann.close();
  await sleep(300);
} finally {
  await Promise.all(nodes.map((n) => n.stop()));
}
for (const message of captured.slice(0, 40)) seed("cluster_native", message);
for (const key of await redis.keys(`${prefix}-session#*`)) {
  seed("recovery_records", await redis.get(commandOptions({ returnBuffers: true }), key));
}
for (const key of await redis.keys(`${prefix}-packets#*`)) {
  const entries = await redis.xRange(commandOptions({ returnBuffers: true }), key, "-", "+", { COUNT: 10 });
  for (const entry of entries) if (entry.message.m) seed("recovery_records", entry.message.m);
  await redis.del(key);
}
for (const key of await redis.keys(`${prefix}*`)) await redis.del(key);
await Promise.all([sub.quit(), redis.quit()]);

for (const [target, list] of Object.entries(seeds)) {
  const dir = path.join(SEEDS, target);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const bytes of list) writeFileSync(path.join(dir, createHash("sha1").update(bytes).digest("hex")), bytes);
  console.log(`${target}: ${list.length} seeds`);
}
process.exit(0);
