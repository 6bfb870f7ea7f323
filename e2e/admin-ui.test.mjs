// The Socket.IO Admin UI (`@socket.io/admin-ui` 0.5) against a two-node
// cluster over Redis: its own client logs in and hears both nodes, the UI's
// page in headless Chromium (Debian's package) lists the sockets of both
// nodes and joins a socket of the other node to a room, read-only servers
// refuse commands, and a node with the UI on and no credentials does not
// start.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import bcrypt from "bcryptjs";
import { io } from "socket.io-client";
import { binaries, connect, once, never, closeAll, startServer, launchChromium, runToExit } from "./helpers.mjs";

const PASSWORD = "s3cret-pass";
// Cost 4, the lowest bcrypt allows: the check is what is tested, not its cost.
const HASH = bcrypt.hashSync(PASSWORD, 4);

function adminArgs(extra = []) {
  return ["--admin-ui", "--admin-username", "admin", "--admin-password-hash", HASH, ...extra];
}

/**
 * A UI client of `url`'s admin namespace; resolves once connected, with
 * `first(event)`: the arguments of the first `event` it heard.
 */
function admin(url, auth) {
  const socket = io(`${url}/admin`, { forceNew: true, reconnection: false, auth });
  const heard = new Map();
  for (const event of ["session", "config", "all_sockets"]) socket.once(event, (...args) => heard.set(event, args));
  const first = async (event, ms = 5000) => {
    for (const end = Date.now() + ms; !heard.has(event); await new Promise((r) => setTimeout(r, 20))) {
      if (Date.now() > end) throw new Error(`no "${event}" within ${ms} ms`);
    }
    return heard.get(event);
  };
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve({ socket, first }));
    socket.once("connect_error", (err) => {
      socket.close();
      reject(err);
    });
  });
}

/** Server ids heard in `server_stats` until `count` distinct ones came, with their last stats. */
function serverStats(socket, count, ms = 8000) {
  const seen = new Map();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server_stats from ${[...seen.keys()]} only`)), ms);
    const onStats = (stats) => {
      seen.set(stats.serverId, stats);
      if (seen.size >= count) {
        clearTimeout(timer);
        socket.off("server_stats", onStats);
        resolve(seen);
      }
    };
    socket.on("server_stats", onStats);
  });
}

describe("Admin UI", () => {
  it("does not start without credentials, or with a hash that is not bcrypt", async () => {
    const bare = await runToExit(["--admin-ui"]);
    assert.notEqual(bare.code, 0);
    assert.equal(bare.signal, null);
    assert.match(bare.stderr, /--admin-password-hash/);
    assert.match(bare.stderr, /--admin-no-auth/);
    const plain = await runToExit(["--admin-ui", "--admin-username", "admin", "--admin-password-hash", PASSWORD]);
    assert.notEqual(plain.code, 0);
    assert.match(plain.stderr, /bcrypt/);
  });

  describe("on two nodes over Redis", () => {
    let nodes;
    let apps;
    let browser;
    before(async () => {
      const prefix = `admin-${Date.now()}`;
      nodes = await Promise.all(
        [0, 1].map((i) =>
          startServer(binaries.node, {
            args: ["--adapter", "redis", "--prefix", prefix, "--heartbeat-interval", "300", "--node-id", `node-${i}`, ...adminArgs()],
          }),
        ),
      );
      apps = await Promise.all(nodes.map((n) => connect(n.url, { transports: ["websocket"] })));
      browser = await launchChromium();
    });
    after(async () => {
      await browser?.close();
      closeAll(apps ?? []);
      await Promise.all((nodes ?? []).map((n) => n.stop()));
    });

    it("refuses a wrong password and an unknown session id", async () => {
      await assert.rejects(admin(nodes[0].url, { username: "admin", password: "wrong" }), /invalid credentials/);
      await assert.rejects(admin(nodes[0].url, { username: "root", password: PASSWORD }), /invalid credentials/);
      await assert.rejects(admin(nodes[0].url, { sessionId: "ffffffffff.0011.00" }), /invalid credentials/);
    });

    it("logs the UI's client in and shows it both nodes, their sockets and their events", async () => {
      const { socket, first } = await admin(nodes[0].url, { username: "admin", password: PASSWORD });
      try {
        const [sessionId] = await first("session");
        const [config] = await first("config");
        assert.deepEqual(config.supportedFeatures.sort(), ["AGGREGATED_EVENTS", "ALL_EVENTS", "DISCONNECT", "EMIT", "JOIN", "LEAVE", "MDISCONNECT", "MJOIN", "MLEAVE"]);
        const [all] = await first("all_sockets");
        for (const app of apps) {
          const listed = all.find((s) => s.id === app.id);
          assert.ok(listed, `${app.id} listed`);
          assert.equal(listed.nsp, "/");
          assert.equal(listed.transport, "websocket");
          assert.ok(listed.rooms.includes(app.id));
        }
        const stats = await serverStats(socket, 2);
        assert.deepEqual([...stats.keys()].sort(), ["node-0", "node-1"]);
        for (const s of stats.values()) {
          assert.ok(s.clientsCount >= 1, JSON.stringify(s));
          assert.ok(s.namespaces.some((n) => n.name === "/" && n.socketsCount >= 1), JSON.stringify(s.namespaces));
          assert.ok(Array.isArray(s.aggregatedEvents));
        }
        // A socket connecting on the other node is announced, and so is its event.
        const connected = once(socket, "socket_connected");
        const late = await connect(nodes[1].url);
        try {
          const [info, when] = await connected;
          assert.equal(info.id, late.id);
          assert.ok(!Number.isNaN(Date.parse(when)));
          const received = once(socket, "event_received");
          await late.emitWithAck("echo", "hello admin");
          const [nsp, sid, args, at] = await received;
          assert.equal(nsp, "/");
          assert.equal(sid, late.id);
          assert.deepEqual(args, ["echo", "hello admin"]);
          assert.ok(!Number.isNaN(Date.parse(at)));
        } finally {
          late.close();
        }
        // The session id logs in again, without the password.
        const again = await admin(nodes[1].url, { sessionId });
        again.socket.close();
      } finally {
        socket.close();
      }
    });

    it("in Chromium: logs in, lists both nodes' sockets, and joins a socket of the other node to a room", async () => {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      page.setDefaultTimeout(10000);
      // The UI loads fonts from a CDN: only loopback may be reached.
      await page.route("**/*", (route) => {
        const url = new URL(route.request().url());
        return url.hostname === "127.0.0.1" || url.protocol === "data:" ? route.continue() : route.abort();
      });
      try {
        await page.goto(`${nodes[0].url}/admin/`);
        await page.getByLabel("Server URL").fill(nodes[0].url);
        await page.getByLabel("Username").fill("admin");
        await page.getByLabel("Password").fill(PASSWORD);
        await page.getByRole("button", { name: "Connect" }).click();
        await page.getByText("Sockets", { exact: true }).first().click();
        for (const app of apps) await page.getByRole("cell", { name: app.id }).waitFor();
        // The socket connected to the other node: open it, join a room.
        const remote = apps[1];
        await page.getByRole("cell", { name: remote.id }).click();
        // Typed (the combobox ignores a value set at once) and submitted
        // with its button, which has no text here: its icon font is on a CDN.
        const room = page.getByLabel("Join a room");
        await room.click();
        await room.pressSequentially("from-ui");
        await page.locator("form").filter({ has: room }).locator("button").click();
        // The UI lists the room once node-1 announced the join.
        await page.waitForTimeout(1500); await page.screenshot({ path: "/tmp/adm.png" }); console.log(await page.locator("body").innerText());
        await page.getByRole("cell", { name: "from-ui" }).first().waitFor();
        const got = once(remote, "msg");
        apps[0].emit("publish", { room: "from-ui", payload: "to the room" });
        assert.deepEqual(await got, ["to the room"]);
      } finally {
        await page.close();
      }
    });

    it("serves the UI's pages at /admin/ and nothing outside them", async () => {
      const redirect = await fetch(`${nodes[1].url}/admin`, { redirect: "manual" });
      assert.equal(redirect.status, 308);
      assert.equal(redirect.headers.get("location"), "/admin/");
      const index = await fetch(`${nodes[1].url}/admin/`);
      assert.equal(index.status, 200);
      assert.match(await index.text(), /<html/i);
      for (const probe of ["/admin/../Cargo.toml", "/admin/%2e%2e/Cargo.toml", "/admin/..%2fpackage.json"]) {
        const res = await fetch(`${nodes[1].url}${probe}`);
        assert.equal(res.status, 404, probe);
      }
    });
  });

  describe("read-only", () => {
    let node;
    before(async () => {
      node = await startServer(binaries.node, { args: adminArgs(["--admin-readonly"]) });
    });
    after(async () => node?.stop());

    it("offers no command and acts on none", async () => {
      const app = await connect(node.url);
      const { socket, first } = await admin(node.url, { username: "admin", password: PASSWORD });
      try {
        const [config] = await first("config");
        assert.deepEqual(config.supportedFeatures.sort(), ["AGGREGATED_EVENTS", "ALL_EVENTS"]);
        socket.emit("join", "/", "forbidden", app.id);
        socket.emit("emit", "/", app.id, "msg", "from a read-only UI");
        socket.emit("_disconnect", "/", true, app.id);
        await never(app, "msg", 500);
        app.emit("publish", { room: "forbidden", payload: "x" });
        await never(app, "msg", 300);
        assert.ok(app.connected);
      } finally {
        socket.close();
        app.close();
      }
    });
  });
});
