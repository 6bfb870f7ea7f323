// Clustered brokers with failover: a 6-process Redis Cluster (3 masters, 3
// replicas), a 3-server NATS cluster and a 2-node RabbitMQ cluster, started
// here on loopback and stopped by PID. Three Switchyard nodes, an official client on each in 10 rooms, a
// publisher sending to every room every 100 ms; then kill -9 of the broker
// process a node depends on. Asserted: membership right on every node, every
// room (joined before and after the failover) delivering again within
// FAILOVER_BOUND_MS, no subscription left once the clients are gone; what was
// lost during the failover is counted and printed.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { io } from "socket.io-client";
import { binaries, startServer, connect, once, closeAll } from "./helpers.mjs";

const FAILOVER_BOUND_MS = 20000;
const ROOMS = 10;

/** A port free on 127.0.0.1 together with port + offset (a cluster bus). */
async function freePorts(count, offset) {
  const tryListen = (port) =>
    new Promise((resolve) => {
      const server = createServer();
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
  const ports = [];
  for (let base = 20000 + Math.floor(Math.random() * 20000); ports.length < count; base++) {
    if ((await tryListen(base)) && (offset === 0 || (await tryListen(base + offset)))) ports.push(base);
  }
  return ports;
}

// Broker processes still running when the test process ends are killed.
const running = new Set();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/** Starts a broker process; `stop(signal)` resolves once it has exited. */
function startProcess(command, args) {
  const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] });
  running.add(child);
  child.on("exit", () => running.delete(child));
  let log = "";
  child.stderr.on("data", (chunk) => (log += chunk));
  let exited = null;
  const exit = new Promise((resolve) => child.on("exit", (code, signal) => resolve((exited = { code, signal }))));
  return {
    child,
    log: () => log,
    stop: (signal = "SIGTERM") => (exited ? Promise.resolve(exited) : (child.kill(signal), exit)),
  };
}

async function until(what, check, ms = 15000, every = 100) {
  const started = Date.now();
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() - started > ms) throw new Error(`timed out: ${what}`);
    await sleep(every);
  }
}

const redisCli = (port, ...args) =>
  execFileSync("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args], { encoding: "utf8", timeout: 5000 });

/**
 * The failover scenario, for any broker: 3 nodes started by `startNodes`,
 * clients on each, traffic, then `kill()` of a broker process.
 */
function failoverScenario({ name, startNodes, kill, leftovers }) {
  describe(name, () => {
    let nodes = [];
    const clients = [];
    const open = async (i, nsp = "/") => {
      const socket = await connect(`${nodes[i].url}${nsp}`, { transports: ["websocket"] });
      clients.push(socket);
      return socket;
    };
    const serversSeen = async (i) => {
      const probe = await open(i, "/ops");
      const { servers } = await probe.emitWithAck("node");
      probe.close();
      return servers;
    };

    before(async () => {
      nodes = await startNodes();
      for (let i = 0; i < nodes.length; i++) await until(`node ${i} sees 3 servers`, async () => (await serversSeen(i)) === 3);
    });

    after(async () => {
      closeAll(clients);
      await Promise.all(nodes.map((n) => n.stop("SIGKILL")));
    });

    it("keeps membership and every room delivering through a broker failover, and leaves no subscription", async () => {
      const members = [await open(0), await open(1), await open(2)];
      const before = Array.from({ length: ROOMS }, (_, r) => `before-${r}-${randomBytes(3).toString("hex")}`);
      for (const room of before) {
        assert.deepEqual(await Promise.all(members.map((m) => m.emitWithAck("join", room))), [true, true, true]);
      }
      // received[member][room] = sequence numbers
      const received = members.map(() => new Map());
      members.forEach((m, i) =>
        m.on("msg", ({ room, seq }) => {
          if (!received[i].has(room)) received[i].set(room, []);
          received[i].get(room).push(seq);
        }),
      );
      const publisher = await open(1);
      const sent = new Map(); // room -> [seq, sentAt]
      let seq = 0;
      let rooms = [...before];
      const ticker = setInterval(() => {
        seq++;
        for (const room of rooms) {
          publisher.emit("publish", { room, payload: { room, seq } });
          if (!sent.has(room)) sent.set(room, []);
          sent.get(room).push([seq, Date.now()]);
        }
      }, 100);
      try {
        await sleep(1000);
        const everyRoomDelivers = (since) =>
          rooms.every((room) => received.every((got) => (got.get(room) ?? []).some((s) => s > since)));
        await until("delivery before the failover", () => everyRoomDelivers(0), 5000);

        const killedAt = Date.now();
        const seqAtKill = seq;
        const victim = await kill();
        await until(`every room delivering again after the kill of ${victim}`, () => everyRoomDelivers(seqAtKill), FAILOVER_BOUND_MS, 50);
        const recoveredMs = Date.now() - killedAt;

        // Rooms joined after the failover deliver too.
        const fresh = Array.from({ length: ROOMS }, (_, r) => `after-${r}-${randomBytes(3).toString("hex")}`);
        for (const room of fresh) {
          assert.deepEqual(await Promise.all(members.map((m) => m.emitWithAck("join", room))), [true, true, true]);
        }
        const seqAtJoin = seq;
        rooms = [...rooms, ...fresh];
        await until("rooms joined after the failover deliver", () => everyRoomDelivers(seqAtJoin), 5000, 50);
        for (let i = 0; i < 3; i++) await until(`node ${i} sees 3 servers after the failover`, async () => (await serversSeen(i)) === 3, 10000);

        // What was lost: sequence numbers some member of a room missed.
        clearInterval(ticker);
        await sleep(500);
        let lost = 0;
        let lastLossAfterKillMs = 0;
        // Duplicated: a sequence number received again; reordered: one
        // received after a later one (per member and room).
        let duplicated = 0;
        let reordered = 0;
        for (const room of rooms) {
          for (const got of received) {
            const seqs = got.get(room) ?? [];
            duplicated += seqs.length - new Set(seqs).size;
            reordered += seqs.filter((n, i) => i > 0 && n < seqs[i - 1]).length;
          }
        }
        for (const room of before) {
          for (const got of received) {
            const have = new Set(got.get(room) ?? []);
            for (const [s, at] of sent.get(room)) {
              if (!have.has(s)) {
                lost++;
                lastLossAfterKillMs = Math.max(lastLossAfterKillMs, at - killedAt);
              }
            }
          }
        }
        const total = before.length * 3 * sent.get(before[0]).length;
        // Delivery is back for good once nothing sent later was lost.
        const backAfterMs = Math.max(recoveredMs, lastLossAfterKillMs);
        console.log(
          `# ${name}: killed ${victim}; lost ${lost} of ${total} deliveries (duplicated ${duplicated}, reordered ${reordered}), ` +
            `the last of them sent ${lastLossAfterKillMs} ms after the kill; every room delivering again ${backAfterMs} ms after the kill`,
        );
        assert.ok(backAfterMs < FAILOVER_BOUND_MS, `failover took ${backAfterMs} ms`);
        for (const room of fresh) {
          for (const got of received) assert.ok((got.get(room) ?? []).length > 0, `room ${room} joined after the failover`);
        }
      } finally {
        clearInterval(ticker);
      }

      // Every client leaves: no subscription stays behind.
      closeAll(members);
      closeAll([publisher]);
      await until("no subscription left", async () => (await leftovers()).length === 0, 10000, 200).catch(() => {});
      assert.deepEqual(await leftovers(), [], "subscriptions left once every client is gone");
    });
  });
}

/** A Redis Cluster of 6 processes (3 masters, 3 replicas) in `dir`. */
async function startRedisCluster() {
  const dir = mkdtempSync(path.join(tmpdir(), "sy-redis-cluster-"));
  const ports = await freePorts(6, 10000);
  const servers = new Map(); // port -> process
  for (const port of ports) {
    servers.set(
      port,
      startProcess("redis-server", [
        "--port", String(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
        "--cluster-config-file", path.join(dir, `nodes-${port}.conf`), "--cluster-node-timeout", "2000",
        "--appendonly", "no", "--save", "", "--dir", dir,
        // A replica that has not synced yet may still be promoted.
        "--cluster-replica-validity-factor", "0",
      ]),
    );
  }
  for (const port of ports) await until(`redis ${port} up`, () => { try { return redisCli(port, "PING").trim() === "PONG"; } catch { return false; } });
  execFileSync("redis-cli", ["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "1", "--cluster-yes"], { stdio: "ignore", timeout: 30000 });
  for (const port of ports) await until(`cluster ok on ${port}`, () => redisCli(port, "CLUSTER", "INFO").includes("cluster_state:ok"), 20000);
  const masters = () =>
    redisCli(ports[0], "CLUSTER", "NODES")
      .split("\n")
      .filter((line) => / (myself,)?master /.test(line))
      .map((line) => Number(line.split(" ")[1].split("@")[0].split(":")[1]));
  await until("3 masters known", () => masters().length === 3);
  // Every replica in sync with its master (a fresh one fails over late).
  for (const port of ports) {
    await until(`replication settled on ${port}`, () => {
      const info = redisCli(port, "INFO", "replication");
      return info.includes("role:master") || info.includes("master_link_status:up");
    }, 20000);
  }
  return {
    ports,
    servers,
    masters,
    async stop() {
      await Promise.all([...servers.values()].map((s) => s.stop("SIGKILL")));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// Switchyard's format subscribes a shard channel per room; Node's format
// one pattern per namespace (rooms subscribe nothing), so there the check
// is that the nodes' own channels are all that is left.
for (const { label, args, leftoverCommand, ours } of [
  { label: "Switchyard format, sharded pub/sub", args: ["--redis-format", "switchyard", "--redis-sharded"], leftoverCommand: ["PUBSUB", "SHARDCHANNELS"], ours: (c) => !c.includes("before-") && !c.includes("after-") },
  { label: "Node's format, classic pub/sub", args: ["--redis-format", "node"], leftoverCommand: ["PUBSUB", "CHANNELS"], ours: (c) => /-(request|response|switchyard)#/.test(c) },
]) {
  describe(`Redis Cluster (6 processes, cluster-node-timeout 2000), ${label}`, { timeout: 120000 }, () => {
    let cluster = null;
    let victim = 0;
    const prefix = `e2e-${randomBytes(4).toString("hex")}`;
    before(async () => {
      cluster = await startRedisCluster();
    });
    after(async () => {
      await cluster?.stop();
    });
    failoverScenario({
      name: `Redis Cluster, ${label}`,
      startNodes: async () => {
        // Node 0's only seed is the master killed below: it must find the
        // promoted replica through the routing table it learned.
        const ms = cluster.masters();
        victim = ms[0];
        return Promise.all(
          [0, 1, 2].map((i) => {
            const seeds = i === 0 ? [ms[0]] : [ms[i], ms[(i + 1) % 3]];
            const url = `redis-cluster://127.0.0.1:${seeds[0]}` + (seeds.length > 1 ? `?node=127.0.0.1:${seeds[1]}` : "");
            return startServer(binaries.node, {
              args: ["--adapter", "redis", "--redis-url", url, "--ops", "--prefix", prefix, "--node-id", `n${i}`,
                "--heartbeat-interval", "300", "--heartbeat-timeout", "3000", "--request-timeout", "2000", ...args],
            });
          }),
        );
      },
      kill: async () => {
        await cluster.servers.get(victim).stop("SIGKILL");
        return `the master on port ${victim} (node 0's only seed)`;
      },
      leftovers: async () => {
        const live = cluster.ports.filter((p) => p !== victim);
        const channels = live.flatMap((p) => { try { return redisCli(p, ...leftoverCommand, `${prefix}*`).split("\n"); } catch { return []; } });
        return channels.filter((c) => c.trim() !== "" && !ours(c));
      },
    });
  });
}

// Node's sharded adapter on a Redis Cluster: a Node.js server
// (`createShardedAdapter`, subscriptionMode "dynamic", node-redis
// `createCluster`) and a Switchyard node (`--redis-format node
// --redis-sharded`) count each other and deliver to rooms spread over every
// shard, both ways.
describe("Redis Cluster, Node's sharded adapter: a Node.js server and a Switchyard node", { timeout: 120000 }, () => {
  const prefix = `e2e-sharded-${randomBytes(4).toString("hex")}`;
  const here = path.dirname(new URL(import.meta.url).pathname);
  let cluster = null;
  const servers = {};
  const clients = [];
  const open = async (server, rooms = []) => {
    const socket = await connect(`${servers[server].url}/ops`, { transports: ["websocket"] });
    clients.push(socket);
    if (rooms.length) await socket.emitWithAck("join", rooms);
    return socket;
  };
  before(async () => {
    cluster = await startRedisCluster();
    const [m0, m1] = cluster.masters();
    [servers.sy, servers.js] = await Promise.all([
      startServer(binaries.node, {
        args: ["--adapter", "redis", "--redis-url", `redis-cluster://127.0.0.1:${m0}?node=127.0.0.1:${m1}`,
          "--redis-format", "node", "--redis-sharded", "--ops", "--prefix", prefix, "--node-id", "sy", "--request-timeout", "2000"],
        captureLog: true,
      }),
      startServer(process.execPath, {
        args: [path.join(here, "node-ops-server.mjs")],
        env: { PREFIX: prefix, LABEL: "js", REQUEST_TIMEOUT: "2000", SHARDED: "1", REDIS_CLUSTER: "1", REDIS_URL: `redis://127.0.0.1:${m1}` },
      }),
    ]);
  });
  after(async () => {
    closeAll(clients);
    await Promise.all(Object.values(servers).map((s) => s.stop()));
    await cluster?.stop();
  });

  it("each server counts the other (SHARDNUMSUB over the cluster)", async () => {
    for (const server of ["sy", "js"]) {
      const probe = await open(server);
      await until(`${server} counts 2 servers`, async () => (await probe.emitWithAck("node")).servers === 2);
    }
  });

  it("delivers to rooms on every shard, to everyone, and fetches sockets, both ways", async () => {
    const rooms = Array.from({ length: 12 }, (_, i) => `room-${i}`);
    const members = { sy: await open("sy", rooms), js: await open("js", rooms) };
    const loners = { sy: await open("sy"), js: await open("js") };
    for (const [from, to] of [["sy", "js"], ["js", "sy"]]) {
      const publisher = await open(from);
      for (const room of rooms) {
        const got = [members.sy, members.js].map((s) => once(s, "room"));
        await publisher.emitWithAck("emit", { to: [room] }, "room", room);
        for (const args of await Promise.all(got)) assert.deepEqual(args, [room], `${from} to ${room}`);
      }
      const got = [members[to], loners[to]].map((s) => once(s, "all"));
      await publisher.emitWithAck("emit", {}, "all", { from, bin: Buffer.from([1, 2]) });
      for (const args of await Promise.all(got)) assert.deepEqual(args, [{ from, bin: Buffer.from([1, 2]) }]);
      const fetched = await publisher.emitWithAck("fetch", { to: ["room-3"] });
      assert.deepEqual(fetched.map((s) => s.id).sort(), [members.sy.id, members.js.id].sort());
    }
    // Private rooms (socket ids) ride the namespace channel, as Node's do.
    const got = once(loners.js, "private");
    await (await open("sy")).emitWithAck("emit", { to: [loners.js.id] }, "private", 1);
    assert.deepEqual(await got, [1]);
  });
});

describe("NATS cluster (3 servers)", { timeout: 120000 }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), "sy-nats-cluster-"));
  let clientPorts = [], routePorts = [], monitorPorts = [];
  const servers = [];
  const prefix = `e2e-${randomBytes(4).toString("hex")}`;
  let victim = -1;
  let baseline = null; // the nodes' subscriptions before any client

  before(async () => {
    clientPorts = await freePorts(3, 0);
    routePorts = await freePorts(3, 0);
    monitorPorts = await freePorts(3, 0);
    const routes = routePorts.map((p) => `nats://127.0.0.1:${p}`).join(",");
    for (let i = 0; i < 3; i++) {
      servers.push(
        startProcess("nats-server", [
          "-a", "127.0.0.1", "-p", String(clientPorts[i]), "-m", String(monitorPorts[i]), "-n", `sy-${i}`,
          "--cluster_name", `sy-${prefix}`, "--cluster", `nats://127.0.0.1:${routePorts[i]}`, "--routes", routes,
          "-js", "-sd", path.join(dir, `js-${i}`),
        ]),
      );
    }
    for (let i = 0; i < 3; i++) {
      await until(`nats ${i} routed to 2`, async () => {
        try {
          const routez = await (await fetch(`http://127.0.0.1:${monitorPorts[i]}/routez`)).json();
          return new Set(routez.routes.map((r) => r.remote_id)).size >= 2;
        } catch { return false; }
      });
    }
    // JetStream's meta group has a leader (streams can be created).
    for (let i = 0; i < 3; i++) {
      await until(`JetStream leader known to nats ${i}`, async () => {
        try {
          const jsz = await (await fetch(`http://127.0.0.1:${monitorPorts[i]}/jsz`)).json();
          return Boolean(jsz.meta_cluster?.leader);
        } catch { return false; }
      });
    }
  });

  after(async () => {
    await Promise.all(servers.map((s) => s.stop("SIGKILL")));
    rmSync(dir, { recursive: true, force: true });
  });

  const streamsOf = async (i) => {
    try {
      const jsz = await (await fetch(`http://127.0.0.1:${monitorPorts[i]}/jsz?streams=true&config=true`)).json();
      return (jsz.account_details ?? []).flatMap((a) => a.stream_detail ?? []).filter((st) => st.name.includes(prefix.slice(4)));
    } catch {
      return []; // a dead server
    }
  };
  // (Only a stream's leader knows whether its followers are current.)
  const leaderViews = async () => {
    const views = [];
    for (let i = 0; i < 3; i++) {
      for (const st of await streamsOf(i)) if (st.cluster?.leader === `sy-${i}`) views.push(st);
    }
    return views;
  };
  let killedAt = 0;

  const urls = (order) => order.map((i) => `nats://127.0.0.1:${clientPorts[i]}`).join(",");
  const subjectsOfNodes = async () => {
    const subjects = new Set();
    for (let i = 0; i < 3; i++) {
      if (i === victim) continue;
      for (const c of await connectionsOf(i)) {
        if (/^n\d$/.test(c.name ?? "")) for (const s of c.subscriptions_list ?? []) subjects.add(s);
      }
    }
    return subjects;
  };
  const connectionsOf = async (i) => {
    try {
      return (await (await fetch(`http://127.0.0.1:${monitorPorts[i]}/connz?subs=1`)).json()).connections ?? [];
    } catch { return []; }
  };

  failoverScenario({
    name: "NATS cluster",
    startNodes: async () => {
      const nodes = await Promise.all(
        [0, 1, 2].map((i) =>
          startServer(binaries.node, {
            args: ["--adapter", "nats", "--nats-url", urls([i, (i + 1) % 3, (i + 2) % 3]), "--ops", "--prefix", prefix,
              "--node-id", `n${i}`, "--heartbeat-interval", "300", "--heartbeat-timeout", "3000", "--request-timeout", "2000",
              "--recovery", "--nats-stream-replicas", "3"],
          }),
        ),
      );
      await until("the nodes' subscriptions", async () => (await subjectsOfNodes()).size > 0);
      baseline = await subjectsOfNodes();
      // Both recovery streams made while every server is up (as in any
      // deployment but a fresh one): a message kept, and a session kept by
      // a client whose transport dropped.
      const warm = await connect(nodes[1].url, { transports: ["websocket"] });
      assert.equal(await warm.emitWithAck("join", "warm-up"), true);
      const got = once(warm, "msg");
      warm.emit("publish", { room: "warm-up", payload: 1 });
      await got;
      warm.io.engine.close();
      await sleep(300);
      warm.close();
      return nodes;
    },
    kill: async () => {
      // The server node 0 is connected to.
      for (let i = 0; i < 3; i++) {
        if ((await connectionsOf(i)).some((c) => c.name === "n0")) victim = i;
      }
      assert.ok(victim >= 0, "node 0's server not found");
      // The recovery streams (R3) have caught up on every server first.
      await until("the recovery streams replicated", async () => {
        const views = await leaderViews();
        return views.length === 2 && views.every((st) => (st.cluster.replicas ?? []).length === 2 && st.cluster.replicas.every((r) => r.current));
      }, 15000, 200);
      killedAt = Date.now();
      await servers[victim].stop("SIGKILL");
      return `nats-server ${victim} (node 0's)`;
    },
    // NATS rooms ride their namespace's subject: what must not stay is any
    // subscription beyond those the nodes held before the clients came.
    // (_INBOX.<id>.* is a connection's one reply subscription, made again
    // after a reconnection.)
    leftovers: async () => [...(await subjectsOfNodes())].filter((s) => !baseline.has(s) && !s.startsWith("_INBOX.")),
  });

  it("starts a node while the first server of its list is down", async () => {
    assert.ok(victim >= 0, "runs after the failover");
    const order = [victim, ...[0, 1, 2].filter((i) => i !== victim)];
    const node = await startServer(binaries.node, {
      args: ["--adapter", "nats", "--nats-url", urls(order), "--prefix", prefix, "--node-id", "late"],
    });
    try {
      const socket = await connect(node.url, { transports: ["websocket"] });
      assert.equal(await socket.emitWithAck("join", "late-room"), true);
      socket.close();
    } finally {
      await node.stop("SIGKILL");
    }
  });

  it("keeps recovery data in R3 streams; a recovery after a NATS server died is answered in bounded time", async () => {
    assert.ok(victim >= 0, "runs after the failover");
    const live = [0, 1, 2].filter((i) => i !== victim);
    const ours = await streamsOf(live[0]);
    assert.equal(ours.length, 2, "the recovery streams exist");
    for (const st of ours) assert.equal(st.config.num_replicas, 3, `${st.name} has 3 replicas`);
    // Every stream led by a live server (JetStream elects a new leader when
    // the dead one led); until then recovery data and, behind it, broadcasts
    // wait.
    await until("a live leader for every recovery stream", async () => {
      const views = await leaderViews();
      return views.length >= ours.length && views.every((st) => st.cluster.leader !== `sy-${victim}`);
    }, 20000, 100);
    console.log(`# NATS cluster: every recovery stream led by a live server ${Date.now() - killedAt} ms after the kill`);

    const nodes = await Promise.all(
      ["a", "b"].map((id) =>
        startServer(binaries.node, {
          args: ["--adapter", "nats", "--nats-url", urls(live), "--prefix", prefix, "--node-id", id,
            "--heartbeat-interval", "300", "--heartbeat-timeout", "2000", "--request-timeout", "2000",
            "--recovery", "--nats-stream-replicas", "3"],
        }),
      ),
    );
    const sockets = [];
    try {
      const publisher = await connect(nodes[1].url, { transports: ["websocket"] });
      sockets.push(publisher);
      const client = await connect(nodes[0].url, { transports: ["websocket"] });
      sockets.push(client);
      assert.equal(await client.emitWithAck("join", "r3"), true);
      const first = once(client, "msg");
      publisher.emit("publish", { room: "r3", payload: "before" });
      await first;
      const lost = { id: client.id, pid: client._pid, offset: client._lastOffset };
      client.io.engine.close();
      await sleep(300);
      for (let n = 1; n <= 3; n++) publisher.emit("publish", { room: "r3", payload: n });
      await sleep(300);
      await nodes[0].stop("SIGKILL");
      const back = io(nodes[1].url, { forceNew: true, reconnection: false, autoConnect: false, transports: ["websocket"] });
      sockets.push(back);
      back._pid = lost.pid;
      back._lastOffset = lost.offset;
      const received = [];
      back.on("msg", (payload) => received.push(payload));
      // Answered within the bound in any case: recovered from the
      // replicated streams, or (JetStream still settling after the loss of
      // a server, READ_WAIT) afresh, never left waiting.
      const asked = Date.now();
      const connected = once(back, "connect", 10000);
      back.connect();
      await connected;
      const answeredMs = Date.now() - asked;
      await sleep(300);
      if (back.recovered) {
        assert.equal(back.id, lost.id);
        assert.deepEqual(received, [1, 2, 3], "every missed message, once, in order");
      } else {
        assert.notEqual(back.id, lost.id, "a fresh session");
      }
      console.log(`# NATS cluster: a session of a dead node, after a NATS server died: ${back.recovered ? "recovered" : "not recovered (JetStream late)"} in ${answeredMs} ms`);
    } finally {
      closeAll(sockets);
      await Promise.all(nodes.map((n) => n.stop("SIGKILL")));
    }
  });
});

/** The PIDs of `pid`'s descendants (from /proc), deepest last. */
function descendants(pid) {
  const children = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch {}
  }
  const out = [];
  const walk = (p) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/**
 * A RabbitMQ node of its own on loopback (name `name@localhost`, AMQP on
 * `port`, distribution on port + 20000), its files in `dir`. The Debian
 * wrapper runs it as the rabbitmq user, with that user's Erlang cookie.
 */
function startRabbitNode(name, port, dir) {
  mkdirSync(dir, { recursive: true });
  execFileSync("chown", ["-R", "rabbitmq:rabbitmq", dir]);
  const child = spawn("rabbitmq-server", [], {
    stdio: ["ignore", "ignore", "pipe"],
    env: {
      ...process.env,
      RABBITMQ_NODENAME: `${name}@localhost`, RABBITMQ_NODE_IP_ADDRESS: "127.0.0.1",
      RABBITMQ_NODE_PORT: String(port), RABBITMQ_DIST_PORT: String(port + 20000),
      RABBITMQ_MNESIA_BASE: `${dir}/mnesia`, RABBITMQ_LOG_BASE: `${dir}/log`,
      RABBITMQ_ENABLED_PLUGINS_FILE: `${dir}/plugins`, RABBITMQ_FEATURE_FLAGS_FILE: `${dir}/feature_flags`,
      RABBITMQ_CONFIG_FILE: `${dir}/none`, RABBITMQ_PID_FILE: `${dir}/pid`,
    },
  });
  running.add(child);
  let log = "";
  child.stderr.on("data", (chunk) => (log += chunk));
  return {
    log: () => log,
    name: `${name}@localhost`,
    port,
    ctl: (...args) => execFileSync("rabbitmqctl", ["-q", "-n", `${name}@localhost`, ...args], { encoding: "utf8", timeout: 60000 }),
    kill() {
      for (const pid of [...descendants(child.pid), child.pid].reverse()) {
        try { process.kill(pid, "SIGKILL"); } catch {}
      }
      running.delete(child);
    },
  };
}

describe("RabbitMQ cluster (2 nodes)", { timeout: 150000 }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), "sy-rabbit-cluster-"));
  chmodSync(dir, 0o755); // the nodes run as the rabbitmq user
  const prefix = `e2e-${randomBytes(4).toString("hex")}`;
  let brokers = [];
  let victim = null;

  before(async () => {
    const ports = await freePorts(2, 20000);
    brokers = ports.map((port, i) => startRabbitNode(`sy${i}-${prefix.slice(4)}`, port, path.join(dir, String(i))));
    // (await_startup fails at once until the node has registered.)
    const up = (b) => until(`${b.name} up`, () => { try { b.ctl("await_startup"); return true; } catch { return false; } }, 60000, 500);
    for (const b of brokers) await up(b).catch((e) => { throw new Error(`${e.message}\n${b.log()}`); });
    brokers[1].ctl("stop_app");
    brokers[1].ctl("join_cluster", brokers[0].name);
    brokers[1].ctl("start_app");
    await up(brokers[1]);
  });

  after(() => {
    for (const b of brokers) b.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  const url = (b) => `amqp://guest:guest@127.0.0.1:${b.port}/%2f`;
  failoverScenario({
    name: "RabbitMQ cluster",
    startNodes: () =>
      Promise.all(
        [0, 1, 2].map((i) => {
          // Node 0 (and 2) reach the first RabbitMQ node, node 1 the second.
          const order = i === 1 ? [brokers[1], brokers[0]] : [brokers[0], brokers[1]];
          return startServer(binaries.node, {
            args: ["--adapter", "amqp", "--amqp-url", order.map(url).join(","), "--ops", "--prefix", prefix,
              "--node-id", `n${i}`, "--heartbeat-interval", "300", "--heartbeat-timeout", "3000", "--request-timeout", "2000"],
          });
        }),
      ),
    kill: async () => {
      victim = brokers[0];
      victim.kill();
      return `RabbitMQ node ${victim.name} (nodes 0 and 2 used it)`;
    },
    leftovers: async () => {
      const bindings = brokers[1].ctl("list_bindings", "source_name", "routing_key").split("\n");
      return bindings.filter((line) => line.startsWith(prefix) && /room\.(before|after)-/.test(line));
    },
  });
});
