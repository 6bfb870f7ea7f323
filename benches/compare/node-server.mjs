// The bench contract (see src/node/contract.rs) on Node.js Socket.IO 4.8 with
// its default settings, for scripts/bench-compare.sh and scripts/deflate-bench.mjs: echo(...args, ack),
// join(room, ack), leave(room, ack), publish({room, payload, except?}).
// Listens on 127.0.0.1:$PORT (3000).
import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.env.PORT ?? 3000);
const httpServer = createServer();
// PER_MESSAGE_DEFLATE=1: permessage-deflate on (Node's threshold, 1,024 bytes).
const io = new Server(httpServer, { perMessageDeflate: process.env.PER_MESSAGE_DEFLATE === "1" });

io.on("connection", (socket) => {
  socket.on("echo", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });
  socket.on("join", (room, ack) => {
    const ok = typeof room === "string";
    if (ok) socket.join(room);
    if (typeof ack === "function") ack(ok);
  });
  socket.on("leave", (room, ack) => {
    const ok = typeof room === "string";
    if (ok) socket.leave(room);
    if (typeof ack === "function") ack(ok);
  });
  socket.on("publish", (p) => {
    if (!p || typeof p.room !== "string") return;
    const except = p.except === undefined ? [] : p.except;
    io.to(p.room).except(except).emit("msg", p.payload);
  });
});

httpServer.listen(port, "127.0.0.1", () => {
  console.log(`socket.io ${port} listening on http://127.0.0.1:${port}`);
});
