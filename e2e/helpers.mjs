// Helpers for the end-to-end tests: start the built servers on free ports,
// connect official clients, wait for events with timeouts.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { io } from "socket.io-client";
import { chromium } from "playwright-core";
import path from "node:path";
import { fileURLToPath } from "node:url";

const targetDir = process.env.CARGO_TARGET_DIR
  ? path.resolve(process.env.CARGO_TARGET_DIR)
  : path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "target");
const profile = process.env.CARGO_PROFILE ?? "debug";

export const binaries = {
  node: process.env.SWITCHYARD_BIN ?? path.join(targetDir, profile, "switchyard"),
  conformance: path.join(targetDir, profile, "examples", "conformance"),
  features: path.join(targetDir, profile, "examples", "features"),
  redisEmitter: path.join(targetDir, profile, "examples", "emit"),
};

export const TRANSPORT_SETS = [["polling"], ["websocket"], ["polling", "websocket"]];

export async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Starts a server binary with PORT set; resolves once it answers a
 * handshake. With `captureLog`, its stderr is kept in `server.log()`
 * instead of shown.
 */
export async function startServer(binary, { env = {}, args = [], path: sioPath = "/socket.io/", captureLog = false } = {}) {
  const port = await freePort();
  const child = spawn(binary, args, {
    env: { ...process.env, PORT: String(port), RUST_LOG: process.env.RUST_LOG ?? "warn", ...env },
    stdio: ["ignore", "inherit", captureLog ? "pipe" : "inherit"],
  });
  let log = "";
  child.stderr?.on("data", (chunk) => (log += chunk));
  let exited = null;
  child.on("exit", (code, signal) => (exited = { code, signal }));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    if (exited) throw new Error(`${binary} exited early: ${JSON.stringify(exited)}`);
    try {
      const res = await fetch(`${url}${sioPath}?EIO=4&transport=polling`);
      if (res.status === 200) break;
    } catch {}
    await sleep(50);
  }
  return {
    url,
    port,
    child,
    log: () => log,
    async stop(signal = "SIGTERM") {
      if (exited) return exited;
      const done = new Promise((resolve) => child.on("exit", (code, sig) => resolve({ code, signal: sig })));
      child.kill(signal);
      return done;
    },
  };
}

/**
 * Runs the node binary with `args` until it exits (at most 10 s): its exit
 * code, signal and stderr — for settings it must refuse at start.
 */
export function runToExit(args) {
  return new Promise((resolve) => {
    const child = spawn(binaries.node, args, { env: { ...process.env, PORT: "0" }, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), 10000);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr });
    });
  });
}

/** Headless Chromium: Debian's package (CHROMIUM overrides), with `extraArgs`. */
export function launchChromium(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", ...extraArgs],
  });
}

/** Connects an official client and waits for "connect" (or rejects on connect_error). */
export function connect(url, opts = {}) {
  const socket = io(url, { forceNew: true, reconnection: false, ...opts });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no connection to ${url}`)), 5000);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once("connect_error", (err) => {
      clearTimeout(timer);
      socket.close();
      reject(err);
    });
  });
}

/** The next `event` on `socket`, with its arguments. */
export function once(socket, event, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${event}" within ${ms} ms`)), ms);
    socket.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

/** Asserts `event` does not arrive within `ms`. */
export function never(socket, event, ms = 300) {
  return new Promise((resolve, reject) => {
    const handler = (...args) => reject(new Error(`unexpected "${event}": ${JSON.stringify(args)}`));
    socket.once(event, handler);
    setTimeout(() => {
      socket.off(event, handler);
      resolve();
    }, ms);
  });
}

export function closeAll(sockets) {
  for (const s of sockets) s.close();
}

const DEPLOY = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "deploy");

/** deploy/<file>, listening on `port` and pointing at the nodes. */
function rewrite(file, port, nodes) {
  return readFileSync(path.join(DEPLOY, file), "utf8")
    .replace("bind :8080", `bind 127.0.0.1:${port}`)
    .replace("listen 8080;", `listen 127.0.0.1:${port};`)
    .replace(/node(\d):3000/g, (_, i) => `127.0.0.1:${nodes[Number(i) - 1].port}`);
}

/**
 * Runs a load balancer on a deploy/ config (rewritten only to point at the
 * nodes' loopback ports); resolves once every node serves behind it.
 */
export async function startBalancer(kind, file, nodes) {
  // Health checks look at /readyz: a node that is still starting would be
  // taken out at the first check and come back only after a few more.
  for (let i = 0; ; i++) {
    const ready = await Promise.all(nodes.map((n) => fetch(`${n.url}/readyz`).then((r) => r.status === 200).catch(() => false)));
    if (ready.every(Boolean)) break;
    if (i >= 200) throw new Error("the nodes did not become ready");
    await sleep(50);
  }
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), "lb-"));
  const config = path.join(dir, path.basename(file));
  writeFileSync(config, rewrite(file, port, nodes));
  const child =
    kind === "haproxy"
      ? spawn("haproxy", ["-f", config, "-db"], { stdio: ["ignore", "ignore", "inherit"] })
      : spawn("nginx", ["-c", config, "-p", dir, "-g", `daemon off; pid ${dir}/nginx.pid; error_log stderr warn;`], { stdio: ["ignore", "ignore", "inherit"] });
  let exited = null;
  child.on("exit", (code) => (exited = code));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (exited !== null) throw new Error(`${kind} exited`);
    if (i >= 150) throw new Error(`${kind} did not start`);
    // Every node must be up behind it (health checks pass).
    const answers = await Promise.all(nodes.map(() => fetch(`${url}/healthz`).then((r) => r.status).catch(() => 0)));
    if (answers.every((s) => s === 200)) break;
    await sleep(100);
  }
  return {
    url,
    stop: () => new Promise((resolve) => (exited !== null ? resolve() : (child.on("exit", resolve), child.kill("SIGTERM")))),
  };
}
