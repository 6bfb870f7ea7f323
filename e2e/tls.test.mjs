// HTTPS and WSS (--tls-cert/--tls-key): a CA and certificates made by the
// test with openssl; the official client over https:// (polling, WebSocket,
// polling then upgrade) trusting that CA, headless Chromium loading the demo,
// plain HTTP on the TLS port refused, a certificate reloaded on SIGHUP without
// dropping a connection, and clear start-up errors for unusable files.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import https from "node:https";
import tls from "node:tls";
import { setTimeout as sleep } from "node:timers/promises";
import { io } from "socket.io-client";
import WebSocket from "ws";
import { binaries, freePort, once, TRANSPORT_SETS, launchChromium, runToExit } from "./helpers.mjs";

const dir = mkdtempSync(path.join(tmpdir(), "switchyard-tls-"));
const file = (name) => path.join(dir, name);

function openssl(...args) {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}

/** A certificate for 127.0.0.1 and localhost signed by the test CA, as `<name>.crt` + `<name>.key`. */
function issue(name, cn) {
  openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", file(`${name}.key`), "-subj", `/CN=${cn}`, "-out", file(`${name}.csr`));
  writeFileSync(file(`${name}.ext`), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  openssl("x509", "-req", "-in", file(`${name}.csr`), "-CA", file("ca.crt"), "-CAkey", file("ca.key"), "-CAcreateserial", "-days", "2", "-extfile", file(`${name}.ext`), "-out", file(`${name}.crt`));
}

function request(url, { method = "GET", body } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, ca: readFileSync(file("ca.crt")) }, (res) => {
      let text = "";
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const get = (url) => request(url);

/** The CN of the certificate `port` presents now. */
function presented(port) {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, ca: readFileSync(file("ca.crt")), servername: "localhost" }, () => {
      resolve(socket.getPeerCertificate().subject.CN);
      socket.end();
    });
    socket.on("error", reject);
  });
}

async function startTls(extra = [], cert = "live") {
  const port = await freePort();
  const child = spawn(binaries.node, ["--tls-cert", file(`${cert}.crt`), "--tls-key", file(`${cert}.key`), ...extra], {
    env: { ...process.env, PORT: String(port), RUST_LOG: "warn" },
    stdio: ["ignore", "inherit", "pipe"],
  });
  let log = "";
  child.stderr.on("data", (d) => (log += d));
  const url = `https://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`node exited: ${log}`);
    if (i > 200) throw new Error(`node not up: ${log}`);
    const ok = await get(`${url}/healthz`).then((r) => r.status === 200, () => false);
    if (ok) break;
    await sleep(50);
  }
  return { url, port, child, log: () => log, stop: () => new Promise((r) => (child.exitCode !== null ? r() : (child.on("exit", r), child.kill("SIGTERM")))) };
}

describe("TLS", () => {
  let node;
  before(async () => {
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", file("ca.key"), "-subj", "/CN=switchyard test CA", "-days", "2", "-out", file("ca.crt"));
    issue("first", "first");
    issue("second", "second");
    copyFileSync(file("first.crt"), file("live.crt"));
    copyFileSync(file("first.key"), file("live.key"));
    node = await startTls();
  });
  after(async () => node?.stop());

  for (const transports of TRANSPORT_SETS) {
    it(`serves the official client over https:// with ${transports.join(" then ")}`, async () => {
      const socket = io(node.url, { forceNew: true, reconnection: false, transports, ca: readFileSync(file("ca.crt")) });
      try {
        await once(socket, "connect");
        const reply = await new Promise((resolve) => socket.emit("echo", "over tls", Buffer.from([1, 2, 3]), (...args) => resolve(args)));
        assert.equal(reply[0], "over tls");
        assert.deepEqual([...reply[1]], [1, 2, 3]);
        if (transports.includes("websocket")) {
          for (let i = 0; socket.io.engine.transport.name !== "websocket"; i++) {
            assert.ok(i < 100, "upgraded to wss");
            await sleep(20);
          }
        }
      } finally {
        socket.close();
      }
    });
  }

  it("refuses a client that does not trust the certificate, and plain HTTP on the TLS port", async () => {
    const untrusting = io(node.url, { forceNew: true, reconnection: false, transports: ["websocket"] });
    try {
      const [err] = await once(untrusting, "connect_error");
      assert.ok(err);
    } finally {
      untrusting.close();
    }
    await assert.rejects(fetch(`http://127.0.0.1:${node.port}/socket.io/?EIO=4&transport=polling`));
    const metrics = await get(`${node.url}/metrics`);
    assert.match(metrics.body, /switchyard_refused_total\{reason="malformed"\} [1-9]/);
    assert.equal((await get(`${node.url}/healthz`)).body, "ok");
  });

  it("loads the demo in Chromium over HTTPS", async () => {
    const browser = await launchChromium(["--ignore-certificate-errors"]);
    try {
      const page = await browser.newPage();
      await page.goto(`${node.url}/?name=tls`);
      await page.waitForFunction(() => document.getElementById("status").textContent === "connected (websocket)", null, { timeout: 10000 });
      assert.equal(await page.evaluate(() => location.protocol), "https:");
    } finally {
      await browser.close();
    }
  });

  it("reloads the certificate on SIGHUP without dropping connections", async () => {
    const socket = io(node.url, { forceNew: true, reconnection: false, transports: ["websocket"], ca: readFileSync(file("ca.crt")) });
    try {
      await once(socket, "connect");
      assert.equal(await presented(node.port), "first");
      copyFileSync(file("second.crt"), file("live.crt"));
      copyFileSync(file("second.key"), file("live.key"));
      node.child.kill("SIGHUP");
      for (let i = 0; (await presented(node.port)) !== "second"; i++) {
        assert.ok(i < 100, "the new certificate is served");
        await sleep(50);
      }
      assert.ok(socket.connected);
      assert.equal(await socket.timeout(5000).emitWithAck("echo", "still here"), "still here");
      // A broken file on the next reload keeps the certificate served.
      writeFileSync(file("live.crt"), "not a certificate");
      node.child.kill("SIGHUP");
      await sleep(300);
      assert.equal(await presented(node.port), "second");
    } finally {
      socket.close();
    }
  });

  it("does not start with an unusable certificate or key, and says why", async () => {
    const missing = await runToExit(["--tls-cert", file("nope.crt"), "--tls-key", file("first.key")]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /TLS: certificate .*nope\.crt/);
    const mismatched = await runToExit(["--tls-cert", file("first.crt"), "--tls-key", file("second.key")]);
    assert.notEqual(mismatched.code, 0);
    assert.match(mismatched.stderr, /TLS:/);
    const alone = await runToExit(["--tls-cert", file("first.crt")]);
    assert.notEqual(alone.code, 0);
    assert.match(alone.stderr, /--tls-key/);
  });

  describe("two nodes over Redis without sticky sessions", () => {
    let nodes;
    before(async () => {
      const args = ["--adapter", "redis", "--prefix", `tls-${Date.now()}`, "--heartbeat-interval", "300", "--tls-peer-ca", file("ca.crt")];
      nodes = await Promise.all([startTls(args, "first"), startTls(args, "second")]);
      // Each node knows where the other listens once it is ready.
      for (const node of nodes) {
        for (let i = 0; (await get(`${node.url}/readyz`)).status !== 200; i++) {
          assert.ok(i < 100, "ready");
          await sleep(50);
        }
      }
    });
    after(async () => Promise.all((nodes ?? []).map((n) => n.stop())));

    it("forwards polling requests and WebSocket upgrades to the owner over TLS", async () => {
      const path = "/socket.io/?EIO=4&transport=polling";
      const open = await get(`${nodes[0].url}${path}`);
      assert.equal(open.status, 200);
      const { sid } = JSON.parse(open.body.slice(1));
      // The other node forwards to the owner: the CONNECT, then its answer.
      const posted = await request(`${nodes[1].url}${path}&sid=${sid}`, { method: "POST", body: "40" });
      assert.deepEqual([posted.status, posted.body], [200, "ok"]);
      const connected = await get(`${nodes[1].url}${path}&sid=${sid}`);
      assert.equal(connected.status, 200);
      assert.match(connected.body, /^40\{"sid":/);
      // The upgrade through the other node reaches the owner's session.
      const ws = new WebSocket(`wss://127.0.0.1:${nodes[1].port}/socket.io/?EIO=4&transport=websocket&sid=${sid}`, { ca: readFileSync(file("ca.crt")) });
      try {
        await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
        ws.send("2probe");
        const [answer] = await once(ws, "message");
        assert.equal(String(answer), "3probe");
      } finally {
        ws.close();
      }
    });
  });
});
