// A Node.js Socket.IO 4.8 server with @socket.io/redis-adapter 8.3, serving
// the same `/ops` contract as the switchyard node (src/node/ops.rs), so the
// interop tests drive both kinds of server the same way.
//   PORT, REDIS_URL, PREFIX (the adapter's key), LABEL, REQUEST_TIMEOUT (ms),
//   SPECIFIC_RESPONSE_CHANNEL (non-empty: publishOnSpecificResponseChannel),
//   SHARDED (non-empty: createShardedAdapter, subscriptionMode "dynamic"),
//   REDIS_CLUSTER (non-empty: REDIS_URL is a seed of a Redis Cluster)
import { createServer } from "node:http";
import { Server } from "socket.io";
import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import { createClient, createCluster } from "redis";

const env = process.env;
const label = env.LABEL ?? "node";
const url = env.REDIS_URL ?? "redis://127.0.0.1:6379";
const pub = env.REDIS_CLUSTER ? createCluster({ rootNodes: [{ url }] }) : createClient({ url });
const sub = pub.duplicate();
for (const client of [pub, sub]) client.on("error", (err) => console.error(`redis: ${err.message}`));
await Promise.all([pub.connect(), sub.connect()]);

const httpServer = createServer();
const io = new Server(httpServer, {
  adapter: env.SHARDED
    ? createShardedAdapter(pub, sub, { channelPrefix: env.PREFIX ?? "socket.io", subscriptionMode: "dynamic" })
    : createAdapter(pub, sub, {
        key: env.PREFIX ?? "socket.io",
        requestsTimeout: Number(env.REQUEST_TIMEOUT ?? 5000),
        publishOnSpecificResponseChannel: Boolean(env.SPECIFIC_RESPONSE_CHANNEL),
      }),
});
const ops = io.of("/ops");

function operator(socket, target = {}) {
  let op = target.broadcast ? socket.broadcast : socket.nsp;
  if (target.to?.length) op = op.to(target.to);
  if (target.except?.length) op = op.except(target.except);
  if (target.volatile) op = op.volatile;
  if (target.local) op = op.local;
  return op;
}

ops.on("ops-ping", (...args) => {
  const ack = typeof args.at(-1) === "function" ? args.pop() : null;
  ack?.({ node: label, args });
});
ops.on("ops-relay", (...args) => ops.local.emit("relayed", ...args));

ops.on("connection", (socket) => {
  socket.on("node", async (ack) => ack({ label, servers: await ops.adapter.serverCount() }));
  socket.on("echo", (...args) => args.pop()(...args));
  socket.on("join", (rooms, ack) => {
    socket.join(rooms);
    ack([...socket.rooms]);
  });
  socket.on("leave", (room, ack) => {
    socket.leave(room);
    ack([...socket.rooms]);
  });
  socket.on("set-data", (data, ack) => {
    socket.data = data;
    ack(true);
  });
  socket.on("emit", (target, name, payload, ack) => {
    operator(socket, target).emit(name, payload);
    ack(true);
  });
  // What JSON cannot carry from a client: a Date, in a nested object.
  socket.on("emit-dated", (target, ack) => {
    operator(socket, target).emit("dated", { at: new Date(Date.UTC(2026, 10, 25, 9, 46, 40, 123)), nested: { list: [1, "two", { three: null }], big: 2 ** 40 } });
    ack(true);
  });
  socket.on("fetch", async (target, ack) => {
    try {
      const sockets = await operator(socket, target).fetchSockets();
      ack(sockets.map((s) => ({ id: s.id, rooms: [...s.rooms].sort(), data: s.data ?? null, auth: s.handshake.auth })));
    } catch (err) {
      ack([{ error: err.message }]);
    }
  });
  socket.on("fetch-partial", async (target, ack) => {
    try {
      const sockets = await operator(socket, target).fetchSockets();
      ack({ ids: sockets.map((s) => s.id), missing: 0 });
    } catch (err) {
      ack({ error: err.message });
    }
  });
  socket.on("sockets-join", (target, room, ack) => {
    operator(socket, target).socketsJoin(room);
    ack(true);
  });
  socket.on("sockets-leave", (target, room, ack) => {
    operator(socket, target).socketsLeave(room);
    ack(true);
  });
  socket.on("disconnect-sockets", (target, close, ack) => {
    ack(true);
    operator(socket, target).disconnectSockets(close);
  });
  socket.on("poll-everyone", (timeoutMs, ack) => {
    ops.timeout(timeoutMs).emit("poll", (err, responses) => ack(err ? { error: err.message, responses } : { responses }));
  });
  socket.on("server-side-emit", (args, timeoutMs, ack) => {
    ops.serverSideEmit("ops-ping", ...args, (err, responses) =>
      ack(err ? { error: err.message, responses } : { responses, missing: 0 }),
    );
  });
});

httpServer.listen(Number(env.PORT ?? 3000), "127.0.0.1");
const stop = () => io.close(() => Promise.all([pub.quit(), sub.quit()]).finally(() => process.exit(0)));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
