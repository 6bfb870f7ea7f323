// A NATS server of a script's own, with JetStream and its monitoring port
// (/connz, /jsz): what the broker holds and counts is read there.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "../e2e/helpers.mjs";

export async function natsServer() {
  const port = await freePort();
  const monitor = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), "sy-nats-"));
  const child = spawn("nats-server", ["-a", "127.0.0.1", "-p", String(port), "-m", String(monitor), "-js", "-sd", dir], {
    stdio: "ignore",
  });
  for (let i = 0; ; i++) {
    const ok = await fetch(`http://127.0.0.1:${monitor}/healthz?js-enabled-only=true`).then((r) => r.ok).catch(() => false);
    if (ok) break;
    if (i > 100) throw new Error("nats-server did not start");
    await sleep(100);
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    monitor: `http://127.0.0.1:${monitor}`,
    stop() {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
