#!/usr/bin/env node
// permessage-deflate's cost and gain on a fan-out: one server, N
// subscribers (Node's `ws`, offering permessage-deflate as the official
// client does) in one room, a publisher sending a 2 KB JSON message (a
// page of chat messages, as an application sends) at a fixed rate. Runs a
// release Switchyard node and Node.js Socket.IO 4.8
// (benches/compare/node-server.mjs), each without and with
// permessage-deflate, and reports per delivery the server's CPU (from
// /proc, user + system) and the bytes the subscribers read from their
// sockets.
//
//   node scripts/deflate-bench.mjs [--subscribers 200] [--rate 25] [--duration 20] [--level 1]
//   (SWITCHYARD_BIN, default target/release/switchyard)
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import WebSocket from "ws";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const SUBSCRIBERS = arg("subscribers", 200);
const RATE = arg("rate", 25);
const DURATION = arg("duration", 20);
const BIN = process.env.SWITCHYARD_BIN ?? "target/release/switchyard";
// --level N: Switchyard's --per-message-deflate-level (default 6).
const LEVEL = process.argv.includes("--level") ? ["--per-message-deflate-level", String(arg("level", 6))] : [];
const TICKS = 100; // USER_HZ
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Deterministic pages of chat messages, about 2 KB of JSON each, a new
// page per message (a window of context takeover finds no copy of one).
const WORDS = "the a to of and in is it you that he was for on are with as I his they be at one have this from or had by word but what some we can out other were all there when up use your how said an each she which do their time if will way about many then them write would like so these her long make thing see him two has look more day could go come did number sound no most people my over know water than call first who may down side been now find".split(" ");
let seed = 42;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const sentence = () => Array.from({ length: 6 + Math.floor(random() * 10) }, () => WORDS[Math.floor(random() * WORDS.length)]).join(" ");
const newPage = (n) => {
  const page = [];
  while (JSON.stringify(page).length < 2000) {
    page.push({ id: n * 100 + page.length, user: `user${Math.floor(random() * 500)}`, at: 1764000000000 + n * 977, text: sentence() });
  }
  return page;
};
const PAGES = Array.from({ length: 500 }, (_, n) => newPage(n));

async function freePort() {
  const server = createServer();
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

function cpuTicks(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

function client(url) {
  const ws = new WebSocket(`${url}/socket.io/?EIO=4&transport=websocket`, { perMessageDeflate: true });
  const state = { ws, received: 0, acks: new Map(), next: 1 };
  ws.on("message", (data) => {
    const text = data.toString();
    if (text === "2") return ws.send("3");
    if (text.startsWith("0")) return ws.send("40");
    if (text.startsWith("42[\"msg\"")) state.received++;
    const ack = /^43(\d+)/.exec(text);
    if (ack) state.acks.get(Number(ack[1]))?.();
    if (text.startsWith("40")) state.connected?.();
  });
  state.ready = new Promise((resolve, reject) => {
    state.connected = resolve;
    ws.once("error", reject);
  });
  state.ask = (event, ...args) =>
    new Promise((resolve) => {
      const id = state.next++;
      state.acks.set(id, resolve);
      ws.send(`42${id}${JSON.stringify([event, ...args])}`);
    });
  return state;
}

const SERVERS = {
  switchyard: (port, deflate) => spawn(BIN, ["--port", String(port), ...(deflate ? ["--per-message-deflate", ...LEVEL] : [])], {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, RUST_LOG: "warn" },
  }),
  "node.js": (port, deflate) => spawn(process.execPath, ["benches/compare/node-server.mjs"], {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, PORT: String(port), PER_MESSAGE_DEFLATE: deflate ? "1" : "0" },
  }),
};

async function run(server, deflate) {
  const port = await freePort();
  const node = SERVERS[server](port, deflate);
  const url = `ws://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`http://127.0.0.1:${port}/socket.io/?EIO=4&transport=polling`);
      break;
    } catch {
      await sleep(50);
    }
  }
  const subscribers = [];
  for (let i = 0; i < SUBSCRIBERS; i++) {
    const c = client(url);
    await c.ready;
    await c.ask("join", "bench");
    subscribers.push(c);
  }
  const publisher = client(url);
  await publisher.ready;
  const extensions = subscribers[0].ws.extensions || "none";
  await sleep(500);
  const read0 = subscribers.reduce((n, c) => n + c.ws._socket.bytesRead, 0);
  const cpu0 = cpuTicks(node.pid);
  const total = RATE * DURATION;
  const started = Date.now();
  for (let i = 0; i < total; i++) {
    publisher.ws.send(`42${JSON.stringify(["publish", { room: "bench", payload: { seq: i, page: PAGES[i % PAGES.length] } }])}`);
    const due = started + ((i + 1) * 1000) / RATE;
    await sleep(Math.max(0, due - Date.now()));
  }
  for (let i = 0; i < 100 && subscribers.some((c) => c.received < total); i++) await sleep(50);
  const cpu = cpuTicks(node.pid) - cpu0;
  const read = subscribers.reduce((n, c) => n + c.ws._socket.bytesRead, 0) - read0;
  const delivered = subscribers.reduce((n, c) => n + c.received, 0);
  for (const c of [...subscribers, publisher]) c.ws.terminate();
  node.kill("SIGTERM");
  await new Promise((r) => node.once("exit", r));
  return {
    server,
    deflate,
    extensions,
    delivered,
    expected: total * SUBSCRIBERS,
    cpuMicrosPerDelivery: (cpu * (1e6 / TICKS)) / delivered,
    bytesPerDelivery: read / delivered,
  };
}

const payloadBytes = Math.round(PAGES.reduce((n, page) => n + JSON.stringify(["msg", { seq: 0, page }]).length + 2, 0) / PAGES.length);
console.log(`fan-out: ${SUBSCRIBERS} subscribers, ${RATE} msg/s for ${DURATION} s, messages of ${payloadBytes} bytes of JSON on average`);
const results = [];
for (const server of Object.keys(SERVERS)) {
  const pair = [];
  for (const deflate of [false, true]) {
    const r = await run(server, deflate);
    pair.push(r);
    results.push(r);
    console.log(
      `${server.padEnd(10)} ${deflate ? "with   " : "without"} permessage-deflate: ${r.delivered}/${r.expected} delivered, ` +
        `server CPU ${r.cpuMicrosPerDelivery.toFixed(2)} µs/delivery, ${r.bytesPerDelivery.toFixed(0)} bytes/delivery on the wire (extensions: ${r.extensions})`,
    );
  }
  const [off, on] = pair;
  console.log(
    `${server.padEnd(10)} with/without: CPU ${(on.cpuMicrosPerDelivery / off.cpuMicrosPerDelivery).toFixed(2)}×, bytes ${(on.bytesPerDelivery / off.bytesPerDelivery).toFixed(2)}×`,
  );
}
if (results.some((r) => r.delivered !== r.expected)) process.exit(1);
