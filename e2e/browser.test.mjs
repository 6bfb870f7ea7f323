// The demo page in headless Chromium (Debian's package): two users chat,
// see each other type, and the browser's own WebSocket and XHR stacks
// carry binary payloads over every transport set; on two nodes over Redis,
// each page shows who is online on both.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { binaries, startServer, launchChromium } from "./helpers.mjs";


describe("demo page in Chromium", () => {
  let server;
  let browser;
  before(async () => {
    server = await startServer(binaries.node);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("lets two users chat and shows who is typing, over an upgraded WebSocket", async () => {
    const ann = await browser.newPage();
    const bob = await browser.newPage();
    await ann.goto(`${server.url}/?name=ann`);
    await bob.goto(`${server.url}/?name=bob`);
    for (const page of [ann, bob]) {
      await page.waitForFunction(() => document.getElementById("status").textContent === "connected (websocket)", null, { timeout: 10000 });
    }
    await bob.locator("#input").pressSequentially("hel");
    await ann.waitForFunction(() => document.getElementById("typing").textContent === "bob is typing…", null, { timeout: 5000 });
    await bob.locator("#input").pressSequentially("lo ann");
    await bob.locator("#send button").click();
    await ann.waitForFunction(() => [...document.querySelectorAll("#messages li")].some((li) => li.textContent === "bobhello ann"), null, { timeout: 5000 });
    await ann.waitForFunction(() => document.getElementById("typing").textContent === "", null, { timeout: 5000 });
    // Rooms: after ann moves to another room, bob's lobby messages no longer reach her.
    await ann.locator("#room").fill("side");
    await ann.locator("#room-form button").click();
    await ann.waitForFunction(() => document.getElementById("messages").textContent.includes("You are now in side."), null, { timeout: 5000 });
    await bob.locator("#input").fill("lobby only");
    await bob.locator("#send button").click();
    await bob.waitForFunction(() => document.getElementById("messages").textContent.includes("lobby only"), null, { timeout: 5000 });
    assert.equal(await ann.evaluate(() => document.getElementById("messages").textContent.includes("lobby only")), false);
  });

  for (const transports of [["polling"], ["websocket"], ["polling", "websocket"]]) {
    it(`echoes binary from the browser over ${transports.join("+")}`, async () => {
      const page = await browser.newPage();
      await page.goto(`${server.url}/?name=probe`);
      const result = await page.evaluate(async (transports) => {
        const socket = io("/", { transports, forceNew: true });
        await new Promise((resolve) => socket.on("connect", resolve));
        const bytes = new Uint8Array(70000).map((_, i) => i % 251);
        const reply = await new Promise((resolve) => socket.emit("echo", "ünïcödé ✓", { nested: [bytes.buffer] }, (...args) => resolve(args)));
        const got = new Uint8Array(reply[1].nested[0]);
        socket.close();
        return { first: reply[0], length: got.length, same: got.every((b, i) => b === i % 251) };
      }, transports);
      assert.equal(result.first, "ünïcödé ✓");
      assert.equal(result.length, 70000);
      assert.equal(result.same, true);
      await page.close();
    });
  }

  it("shows who is online across the nodes of a cluster", async () => {
    const prefix = `browser-${Date.now()}`;
    const args = ["--adapter", "redis", "--prefix", prefix, "--heartbeat-interval", "300"];
    const cluster = await Promise.all([0, 1].map(() => startServer(binaries.node, { args })));
    try {
      const ann = await browser.newPage();
      const bob = await browser.newPage();
      await ann.goto(`${cluster[0].url}/?name=ann`);
      await bob.goto(`${cluster[1].url}/?name=bob`);
      for (const page of [ann, bob]) {
        await page.waitForFunction(() => document.getElementById("online").textContent === "online: ann, bob", null, { timeout: 10000 });
      }
      await bob.close();
      await ann.waitForFunction(() => document.getElementById("online").textContent === "online: ann", null, { timeout: 10000 });
      await ann.close();
    } finally {
      await Promise.all(cluster.map((n) => n.stop()));
    }
  });
});
