// The abuses of the hostile-client suite, each as a function that runs it
// against a started node and reports what the node held meanwhile. Shared by
// e2e/hostile.test.mjs (which asserts bounds) and scripts/hostile-report.mjs
// (which prints the table in BENCHMARKS.md).
import { encode as msgpack } from "notepack.io";
import { setTimeout as sleep } from "node:timers/promises";
import { io } from "socket.io-client";
import msgpackParser from "socket.io-msgpack-parser";
import {
  MB,
  closedWithin,
  frame as frameOf,
  httpRaw,
  pollingGet,
  pollingHandshake,
  pollingPost,
  rawWebSocket,
  resetPeak,
  rss,
  tcp,
  writeUntilBlocked,
} from "./raw.mjs";

/** Samples the server's RSS while `work` runs; returns its result with the readings. */
export async function measured(server, work) {
  await settle(server);
  const before = rss(server.child.pid);
  resetPeak(server.child.pid);
  let max = before;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      try {
        max = Math.max(max, rss(server.child.pid));
      } catch {
        return;
      }
      await sleep(20);
    }
  })();
  let result;
  try {
    result = await work();
  } finally {
    sampling = false;
    await sampler;
  }
  let peak = max;
  try {
    peak = Math.max(max, rss(server.child.pid, "VmHWM"));
  } catch {}
  return { ...result, before, held: result?.held ?? max, peak };
}

/** Lets the allocator settle so that readings compare. */
async function settle(server) {
  await sleep(200);
  return rss(server.child.pid);
}

/** The peak of RSS over a short wait, while the attack's state is held. */
async function holdAndRead(server, ms = 500) {
  let max = 0;
  const end = Date.now() + ms;
  while (Date.now() < end) {
    max = Math.max(max, rss(server.child.pid));
    await sleep(25);
  }
  return max;
}

// ---- observers: well-behaved clients that must not notice an attack ----------

const PARSERS = { json: {}, msgpack: { parser: msgpackParser } };

/** Official clients over each transport, recording any disconnection. */
export async function observers(url, { parser = "json", count = 2 } = {}) {
  const list = [];
  const transports = [["websocket"], ["polling"]];
  for (let i = 0; i < count; i++) {
    for (const t of transports) {
      const socket = io(url, { ...PARSERS[parser], transports: t, forceNew: true, reconnection: false });
      const entry = { socket, transport: t[0], disconnects: [] };
      socket.on("disconnect", (reason) => entry.disconnects.push(reason));
      list.push(entry);
    }
  }
  await Promise.all(
    list.map(
      (o) =>
        new Promise((resolve, reject) => {
          if (o.socket.connected) return resolve();
          o.socket.once("connect", resolve);
          o.socket.once("connect_error", reject);
        }),
    ),
  );
  return {
    list,
    /** Reasons any observer was disconnected, empty when none was. */
    disconnected: () => list.flatMap((o) => o.disconnects.map((r) => `${o.transport}: ${r}`)),
    /** Every observer still answers an echo. */
    async echo() {
      await Promise.all(list.map((o) => o.socket.timeout(5000).emitWithAck("echo", "still here")));
    },
    close: () => list.forEach((o) => o.socket.close()),
  };
}

/** A fresh official client connects and gets its ack. */
export async function freshClientWorks(url, { parser = "json", transports = ["polling", "websocket"] } = {}) {
  const socket = io(url, { ...PARSERS[parser], transports, forceNew: true, reconnection: false });
  try {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("a fresh client did not connect")), 5000);
      socket.once("connect", () => (clearTimeout(timer), resolve()));
      socket.once("connect_error", (e) => (clearTimeout(timer), reject(e)));
    });
    const reply = await socket.timeout(5000).emitWithAck("echo", { n: 1 });
    if (reply?.n !== 1) throw new Error(`wrong echo ${JSON.stringify(reply)}`);
  } finally {
    socket.close();
  }
}

// ---- helpers to build hostile payloads ---------------------------------------

/** `0{"a":[0,0,…]}`: a CONNECT whose auth is a wire-dense array of `bytes`. */
function jsonAuthBomb(bytes) {
  const n = Math.floor((bytes - 12) / 2);
  return `40{"a":[${"0,".repeat(n - 1)}0]}`;
}

/** The msgpack CONNECT with an auth of `bytes` zeros. */
function msgpackAuthBomb(bytes) {
  const n = bytes - 32;
  return msgpack({ type: 0, nsp: "/", data: { a: new Array(n).fill(0) } });
}

/**
 * A msgpack EVENT whose data nests arrays that each claim almost the whole
 * input as their length (what a decoder that reserves from the length
 * field turns into large allocations at every level).
 */
function msgpackNestBomb(bytes) {
  const header = msgpack({ type: 2, nsp: "/" });
  // Rewrite the map header from 2 entries to 3, then add "data": nested arrays.
  const head = Buffer.from(header);
  head[0] = 0x83;
  const key = Buffer.from([0xa4, ...Buffer.from("data")]);
  const levels = 100;
  const body = Buffer.alloc(bytes - head.length - key.length, 0);
  let pos = 0;
  for (let l = 0; l < levels; l++) {
    body[pos] = 0xdd;
    body.writeUInt32BE(body.length - pos - 5 - 1, pos + 1);
    pos += 5;
  }
  return Buffer.concat([head, key, body]);
}

// ---- the attacks -------------------------------------------------------------

/** Four sockets with a 1 MB auth payload of zeros each, kept connected. */
export async function authBomb(server, { parser = "json", sockets = 4, bytes = 990_000 } = {}) {
  const clients = [];
  for (let i = 0; i < sockets; i++) {
    const c = await rawWebSocket(server.port);
    await c.next((t) => t.startsWith("0{"));
    if (parser === "json") c.text(jsonAuthBomb(bytes));
    else c.binary(msgpackAuthBomb(bytes));
    clients.push(c);
  }
  // Each gets its answer: the CONNECT reply, or a CONNECT_ERROR.
  const answers = [];
  for (const c of clients) {
    const m = await c.next((t, m) => (m.op === 1 ? /^4[04]/.test(t) : true), 20000).catch(() => null);
    if (!m) answers.push("none");
    else if (m.op === 1) answers.push(m.payload.toString().startsWith("40") ? "connected" : "refused");
    else {
      const type = m.payload.includes(Buffer.from("type")) ? m.payload[m.payload.indexOf(Buffer.from("type")) + 4] : -1;
      answers.push(type === 0 ? "connected" : "refused");
    }
  }
  const held = await holdAndRead(server);
  for (const c of clients) c.destroy();
  return { held, answers, sent: sockets * bytes };
}

/** Four msgpack frames of nested arrays that claim large lengths. */
export async function msgpackNest(server, { frames = 4, bytes = 990_000 } = {}) {
  const clients = [];
  for (let i = 0; i < frames; i++) {
    const c = await rawWebSocket(server.port);
    await c.next((t) => t.startsWith("0{"));
    c.binary(msgpack({ type: 0, nsp: "/" }));
    await c.next(() => true);
    clients.push(c);
  }
  for (const c of clients) c.binary(msgpackNestBomb(bytes));
  const closed = await Promise.all(clients.map((c) => c.closed(10000)));
  for (const c of clients) c.destroy();
  return { closed: closed.filter(Boolean).length, sent: frames * bytes };
}

/** WebSocket pings with 125-byte payloads from a client that never reads. */
export async function pingFlood(server, { ms = 3000 } = {}) {
  const c = await rawWebSocket(server.port, { read: false });
  const payload = Buffer.alloc(125, 0x61);
  const sent = await writeUntilBlocked(c, () => {
    const one = (() => {
      const f = [];
      for (let i = 0; i < 64; i++) f.push(frameOf("ping", payload));
      return Buffer.concat(f);
    })();
    return one;
  }, { ms, max: 512 * MB });
  const held = await holdAndRead(server);
  c.destroy();
  return { held, sent };
}

/** Echo acks of ~1 MB each over polling, never fetched. */
export async function pollingEchoBomb(server, { acks = 150, bytes = 990_000 } = {}) {
  const sid = await pollingHandshake(server.url);
  await pollingPost(server.url, sid, "40");
  await pollingGet(server.url, sid); // the CONNECT reply
  const big = "x".repeat(bytes - 32);
  let refused = 0;
  for (let i = 0; i < acks; i++) {
    const r = await pollingPost(server.url, sid, `42${i}["echo","${big}"]`);
    if (r.status !== 200) {
      refused = acks - i;
      break;
    }
  }
  const held = await holdAndRead(server);
  const last = await pollingGet(server.url, sid).catch(() => ({ status: 0, text: "" }));
  return { held, refused, sessionGone: last.status === 400 || last.text.endsWith("1"), sent: acks * bytes };
}

/** One socket connecting with a new user and disconnecting, as fast as it can. */
export async function presenceChurn(server, { cycles = 20_000, batch = 200 } = {}) {
  const c = await rawWebSocket(server.port);
  await c.next((t) => t.startsWith("0{"));
  let sent = 0;
  for (let i = 0; i < cycles; i += batch) {
    const frames = [];
    for (let j = i; j < i + batch; j++) {
      frames.push(frameOf("text", `40{"user":"churn-${j}"}`), frameOf("text", "41"));
    }
    sent += batch;
    if (!c.socket.write(Buffer.concat(frames))) {
      await Promise.race([new Promise((r) => c.socket.once("drain", r)), sleep(1000)]);
    }
    if (c.socket.destroyed) break;
  }
  const held = await holdAndRead(server, 1500);
  const closed = c.socket.destroyed;
  c.destroy();
  return { held, cycles: sent, attackerClosed: closed };
}

/** Polling handshakes whose heads carry `bytes` of headers, kept open. */
export async function headerBomb(server, { sessions = 40, bytes = 300_000 } = {}) {
  const statuses = [];
  const value = "h".repeat(8000);
  const headers = [];
  for (let i = 0; i * 8000 < bytes; i++) headers.push(`x-pad-${i}: ${value}\r\n`);
  for (let i = 0; i < sessions; i++) {
    const head = `GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${headers.join("")}\r\n`;
    const r = await httpRaw(server.port, head);
    statuses.push(r.status);
  }
  const held = await holdAndRead(server);
  return { held, statuses: [...new Set(statuses)], sent: sessions * bytes };
}

/** Connections that send a request head one byte at a time, slowly. */
export async function slowloris(server, { connections = 100, ms = 4000 } = {}) {
  const sockets = [];
  for (let i = 0; i < connections; i++) {
    const s = await tcp(server.port);
    s.on("error", () => {});
    s.write("GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n");
    sockets.push(s);
  }
  const end = Date.now() + ms;
  while (Date.now() < end) {
    for (const s of sockets) if (!s.destroyed) s.write("x");
    await sleep(200);
  }
  const closed = sockets.filter((s) => s.destroyed || s.readyState !== "open").length;
  for (const s of sockets) s.destroy();
  return { closed, connections };
}

/** A polling POST that announces a body and never sends it. */
export async function slowBody(server, { ms = 4000 } = {}) {
  const sid = await pollingHandshake(server.url);
  const s = await tcp(server.port);
  s.on("error", () => {});
  let answer = "";
  s.on("data", (d) => (answer += d));
  s.write(
    `POST /socket.io/?EIO=4&transport=polling&sid=${sid} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n40`,
  );
  const closed = await closedWithin(s, ms);
  s.destroy();
  return { closed, status: Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0) };
}

/** More TCP connections than the node admits. */
export async function connectionFlood(server, { connections = 300 } = {}) {
  const sockets = [];
  for (let i = 0; i < connections; i++) {
    const s = await tcp(server.port).catch(() => null);
    if (!s) continue;
    s.on("error", () => {});
    let data = "";
    s.on("data", (d) => (data += d));
    s.write("GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n");
    sockets.push({ s, data: () => data });
  }
  await sleep(1000);
  const statuses = {};
  for (const { data } of sockets) {
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data())?.[1] ?? 0);
    statuses[status] = (statuses[status] ?? 0) + 1;
  }
  const held = rss(server.child.pid);
  for (const { s } of sockets) s.destroy();
  return { held, statuses };
}

/** CONNECTs to unknown namespaces as fast as possible, never reading the answers. */
export async function unknownNamespaceFlood(server, { connects = 50_000 } = {}) {
  const c = await rawWebSocket(server.port);
  await c.next((t) => t.startsWith("0{"));
  c.socket.pause();
  let i = 0;
  const sent = await writeUntilBlocked(
    c,
    () => {
      const f = [];
      for (let j = 0; j < 100; j++, i++) f.push(frameOf("text", `40/nope-${i},`));
      return Buffer.concat(f);
    },
    { ms: 3000, max: connects * 20 },
  );
  const held = await holdAndRead(server);
  c.destroy();
  return { held, sent };
}

/** Malformed input of every kind; each connection must be refused, the node must go on. */
export async function garbage(server) {
  const outcomes = {};
  const note = (name, value) => (outcomes[name] = value);
  // HTTP bodies that are not payloads.
  const sid = await pollingHandshake(server.url);
  await pollingPost(server.url, sid, "40");
  note("polling: random bytes", (await pollingPost(server.url, sid, Buffer.from([0xff, 0xfe, 0x00, 0x1e, 0x34]))).status);
  const sid2 = await pollingHandshake(server.url);
  note("polling: bad packet type", (await pollingPost(server.url, sid2, "9garbage")).status);
  note("polling: unknown sid", (await pollingPost(server.url, "nope", "40")).status);
  note("request: not HTTP", (await httpRaw(server.port, "\x00\x01\x02 garbage\r\n\r\n")).status);
  // WebSocket frames that break the rules.
  const cases = {
    "ws: unmasked frame": (c) => c.send("text", "40", { mask: false }),
    "ws: reserved opcode": (c) => c.send(0x3, "x"),
    "ws: length 2^63-1": (c) => c.socket.write(Buffer.from([0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])),
    "ws: invalid UTF-8": (c) => c.send("text", Buffer.from([0x34, 0x32, 0xc3, 0x28])),
    "ws: oversized message": (c) => c.send("text", "4" + "x".repeat(1_100_000)),
    "ws: bad socket.io packet": (c) => c.text("42[}"),
    "ws: continuation without start": (c) => c.send(0x0, "x"),
  };
  for (const [name, act] of Object.entries(cases)) {
    const c = await rawWebSocket(server.port);
    await c.next((t) => t.startsWith("0{"));
    act(c);
    note(name, (await c.closed(5000)) ? "closed" : "open");
    c.destroy();
  }
  return { outcomes };
}

/** A CONNECT with a made-up recovery `{pid, offset}`; how long the answer takes. */
export async function bogusRecovery(server, { attempts = 5, pid } = {}) {
  const times = [];
  for (let i = 0; i < attempts; i++) {
    const c = await rawWebSocket(server.port);
    await c.next((t) => t.startsWith("0{"));
    const started = performance.now();
    c.text(`40${JSON.stringify({ pid: pid ?? `made-up-${i}`, offset: `nope-${i}` })}`);
    await c.next((t) => /^4[04]/.test(t), 20000);
    times.push(performance.now() - started);
    c.destroy();
  }
  return { times, max: Math.max(...times) };
}
