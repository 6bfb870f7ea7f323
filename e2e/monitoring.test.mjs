// The monitoring kit in deploy/: every metric the Grafana dashboard queries
// is one a node exports (scraped from two nodes over Redis after some
// traffic), and Prometheus scrapes the nodes of docker-compose.yml.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { binaries, connect, closeAll, startServer } from "./helpers.mjs";

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
const dashboard = JSON.parse(readFileSync(path.join(ROOT, "deploy/grafana/dashboards/switchyard.json"), "utf8"));

/** Metric names a Prometheus text exposition declares (`# TYPE name kind`). */
function exported(text) {
  const names = new Map();
  for (const [, name, kind] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) names.set(name, kind);
  return names;
}

describe("monitoring kit", () => {
  let nodes;
  before(async () => {
    const args = ["--adapter", "redis", "--prefix", `monitoring-${Date.now()}`, "--heartbeat-interval", "300", "--recovery"];
    nodes = await Promise.all([0, 1].map(() => startServer(binaries.node, { args })));
    // Traffic that touches the counters: sessions on both transports, acks,
    // a cluster broadcast, a cluster request, a disconnect.
    const clients = await Promise.all([
      connect(nodes[0].url, { transports: ["polling"] }),
      connect(nodes[1].url, { transports: ["websocket"] }),
    ]);
    for (const c of clients) assert.equal(await c.emitWithAck("join", "room"), true);
    await clients[0].emitWithAck("echo", "x");
    const got = new Promise((resolve) => clients[1].once("msg", resolve));
    clients[0].emit("publish", { room: "room", payload: "hello" });
    await got;
    await clients[0].emitWithAck("presence");
    closeAll(clients);
    // The nodes count the disconnects once they see the closes.
    for (let i = 0; i < 100; i++) {
      const texts = await Promise.all(nodes.map(async (n) => (await fetch(`${n.url}/metrics`)).text()));
      if (texts.every((t) => t.includes("switchyard_disconnects_total"))) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  after(async () => Promise.all((nodes ?? []).map((n) => n.stop())));

  it("exports every metric the Grafana dashboard queries", async () => {
    const names = new Map();
    for (const node of nodes) {
      const res = await fetch(`${node.url}/metrics`);
      assert.equal(res.status, 200);
      for (const [name, kind] of exported(await res.text())) names.set(name, kind);
    }
    const queried = new Set();
    for (const panel of dashboard.panels.filter((p) => p.type !== "row")) {
      assert.ok(panel.targets.length > 0, panel.title);
      for (const target of panel.targets) {
        assert.equal(target.datasource.uid, "prometheus", panel.title);
        for (const [metric] of target.expr.matchAll(/switchyard_[a-z_]+/g)) queried.add(metric);
      }
    }
    assert.ok(queried.size >= 25, `${queried.size} metrics queried`);
    for (const metric of queried) {
      const base = metric.replace(/_bucket$/, "");
      assert.ok(names.has(base), `${metric} is queried by the dashboard but no node exports it; exported: ${[...names.keys()].join(", ")}`);
      if (metric.endsWith("_bucket")) assert.equal(names.get(base), "histogram", metric);
      if (base.endsWith("_total")) assert.equal(names.get(base), "counter", metric);
    }
  });

  it("has Prometheus scrape the compose file's nodes, and Grafana provisioned with it", () => {
    const prometheus = readFileSync(path.join(ROOT, "deploy/prometheus.yml"), "utf8");
    const compose = readFileSync(path.join(ROOT, "docker-compose.yml"), "utf8");
    const services = [...compose.matchAll(/^  (node\d+):$/gm)].map((m) => m[1]);
    assert.ok(services.length >= 2);
    for (const node of services) assert.match(prometheus, new RegExp(`"${node}:3000"`));
    assert.match(compose, /\.\/deploy\/prometheus\.yml:\/etc\/prometheus\/prometheus\.yml/);
    const datasource = readFileSync(path.join(ROOT, "deploy/grafana/provisioning/datasources/prometheus.yml"), "utf8");
    assert.match(datasource, /uid: prometheus/);
    assert.match(datasource, /url: http:\/\/prometheus:9090/);
  });
});
