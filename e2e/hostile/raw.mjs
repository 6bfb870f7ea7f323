// Raw protocol clients for the hostile-client suite: a WebSocket client that
// writes its own frames (and may never read), plain HTTP requests over TCP,
// and the process readings (RSS, open connections) the suite asserts on.
// Nothing here is polite on purpose.
import { connect as tcpConnect } from "node:net";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

/** Resident memory of a process, in bytes (VmRSS), or its peak (VmHWM). */
export function rss(pid, field = "VmRSS") {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const line = status.split("\n").find((l) => l.startsWith(`${field}:`));
  return Number(line.split(/\s+/)[1]) * 1024;
}

/** Resets a process's peak RSS (VmHWM) so that the next reading is this test's. */
export function resetPeak(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
  } catch {
    // Not root: peaks then include earlier tests; bounds still hold.
  }
}

export const MB = 1024 * 1024;

/** Opens a TCP connection; resolves once connected. */
export function tcp(port, host = "127.0.0.1") {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ port, host }, () => resolve(socket));
    socket.once("error", reject);
  });
}

/** Waits until `socket` is closed by the other side, or `ms` pass; resolves to whether it closed. */
export function closedWithin(socket, ms) {
  if (socket.destroyed || socket.readyState === "closed") return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    const done = () => {
      clearTimeout(timer);
      resolve(true);
    };
    socket.once("close", done);
    socket.once("end", done);
  });
}

/** Sends a raw HTTP request and reads the whole answer (status and body). */
export async function httpRaw(port, head, body = "", { timeout = 10000 } = {}) {
  const socket = await tcp(port);
  socket.on("error", () => {});
  let data = Buffer.alloc(0);
  socket.on("data", (chunk) => (data = Buffer.concat([data, chunk])));
  socket.write(head);
  if (body) socket.write(body);
  const closed = await closedWithin(socket, timeout);
  socket.destroy();
  const text = data.toString("latin1");
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
  return { status, text, closed };
}

/** A polling handshake; resolves to the new session's id. */
export async function pollingHandshake(url, query = "") {
  const res = await fetch(`${url}/socket.io/?EIO=4&transport=polling${query}`);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`handshake answered ${res.status}: ${text}`);
  return JSON.parse(text.slice(1)).sid;
}

/** POSTs a polling body for a session. */
export async function pollingPost(url, sid, body) {
  const res = await fetch(`${url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { method: "POST", body });
  return { status: res.status, text: await res.text() };
}

/** A GET for a session; resolves to the payload text. */
export async function pollingGet(url, sid) {
  const res = await fetch(`${url}/socket.io/?EIO=4&transport=polling&sid=${sid}`);
  return { status: res.status, text: await res.text() };
}

const OP = { text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa };

/** One masked client frame. */
export function frame(opcode, payload, { fin = true, mask = true } = {}) {
  const data = typeof payload === "string" ? Buffer.from(payload) : Buffer.from(payload ?? []);
  const len = data.length;
  const head = [((fin ? 0x80 : 0) | (OP[opcode] ?? opcode))];
  const maskBit = mask ? 0x80 : 0;
  if (len < 126) head.push(maskBit | len);
  else if (len < 65536) head.push(maskBit | 126, len >> 8, len & 0xff);
  else {
    head.push(maskBit | 127);
    const big = Buffer.alloc(8);
    big.writeBigUInt64BE(BigInt(len));
    head.push(...big);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), data]);
  const key = randomBytes(4);
  const masked = Buffer.alloc(len);
  for (let i = 0; i < len; i++) masked[i] = data[i] ^ key[i & 3];
  return Buffer.concat([Buffer.from(head), key, masked]);
}

/**
 * A WebSocket Engine.IO session with hand-written frames. With
 * `read: false` the client never reads after the handshake: the kernel
 * buffers fill and the server's writes stall.
 */
export async function rawWebSocket(port, { query = "", read = true, headers = "" } = {}) {
  const socket = await tcp(port);
  socket.on("error", () => {});
  const key = randomBytes(16).toString("base64");
  socket.write(
    `GET /socket.io/?EIO=4&transport=websocket${query} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
      `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
      `Sec-WebSocket-Version: 13\r\n${headers}\r\n`,
  );
  let buffer = Buffer.alloc(0);
  const messages = [];
  let waiters = [];
  let upgraded = false;
  let status = 0;
  const parse = () => {
    for (;;) {
      if (buffer.length < 2) return;
      const op = buffer[0] & 0x0f;
      let len = buffer[1] & 0x7f;
      let pos = 2;
      if (len === 126) {
        if (buffer.length < 4) return;
        len = buffer.readUInt16BE(2);
        pos = 4;
      } else if (len === 127) {
        if (buffer.length < 10) return;
        len = Number(buffer.readBigUInt64BE(2));
        pos = 10;
      }
      if (buffer.length < pos + len) return;
      const payload = buffer.subarray(pos, pos + len);
      buffer = buffer.subarray(pos + len);
      messages.push({ op, payload: Buffer.from(payload) });
    }
  };
  const handshake = new Promise((resolve, reject) => {
    const onData = (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (!upgraded) {
        const end = buffer.indexOf("\r\n\r\n");
        if (end < 0) return;
        const headText = buffer.subarray(0, end).toString("latin1");
        status = Number(/^HTTP\/1\.1 (\d{3})/.exec(headText)?.[1] ?? 0);
        buffer = buffer.subarray(end + 4);
        upgraded = true;
        if (status !== 101) {
          reject(new Error(`upgrade answered ${status}: ${headText.split("\r\n")[0]}`));
          return;
        }
        if (!read) {
          socket.pause();
        }
        resolve();
      }
      parse();
      const ready = waiters;
      waiters = [];
      for (const w of ready) w();
    };
    socket.on("data", onData);
    socket.once("close", () => reject(new Error("closed during the upgrade")));
  });
  await handshake;
  const client = {
    socket,
    messages,
    send(opcode, payload, options) {
      return socket.write(frame(opcode, payload, options));
    },
    text(payload) {
      return this.send("text", payload);
    },
    binary(payload) {
      return this.send("binary", payload);
    },
    /** Waits for a message whose text passes `test`. */
    async next(test = () => true, ms = 5000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const i = messages.findIndex((m) => test(m.payload.toString(), m));
        if (i >= 0) return messages.splice(i, 1)[0];
        if (socket.destroyed) throw new Error("connection closed");
        const left = deadline - Date.now();
        if (left <= 0) throw new Error("no matching message in time");
        await Promise.race([new Promise((r) => waiters.push(r)), sleep(Math.min(left, 50))]);
      }
    },
    closed: (ms) => closedWithin(socket, ms),
    destroy: () => socket.destroy(),
  };
  return client;
}

/** Writes until the kernel refuses more (the server stopped reading), or `max` bytes. */
export async function writeUntilBlocked(client, makeFrame, { max = 64 * MB, ms = 3000 } = {}) {
  let written = 0;
  const deadline = Date.now() + ms;
  while (written < max && Date.now() < deadline) {
    const data = makeFrame();
    written += data.length;
    if (!client.socket.write(data)) {
      const drained = await Promise.race([
        new Promise((r) => client.socket.once("drain", () => r(true))),
        sleep(300).then(() => false),
      ]);
      if (!drained) break;
    }
  }
  return written;
}
