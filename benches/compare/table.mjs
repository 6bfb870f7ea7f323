// Turns the JSON reports of scripts/bench-compare.sh into Markdown tables
// (medians over rounds), or splices such a table into BENCHMARKS.md.
//
//   node benches/compare/table.mjs <results-dir>            > table.md
//   node benches/compare/table.mjs --splice BENCHMARKS.md table.md
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const BEGIN = "<!-- bench-compare:begin -->";
const END = "<!-- bench-compare:end -->";

if (process.argv[2] === "--splice") {
  const [file, tableFile] = process.argv.slice(3);
  const doc = readFileSync(file, "utf8");
  const table = readFileSync(tableFile, "utf8").trim();
  const start = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  const block = `${BEGIN}\n${table}\n${END}`;
  const next =
    start >= 0 && end > start
      ? doc.slice(0, start) + block + doc.slice(end + END.length)
      : `${doc.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, next);
  process.exit(0);
}

const dir = process.argv[2];
// reports[scenario][server] = [report of each round]
const reports = {};
for (const name of readdirSync(dir).filter((f) => f.endsWith(".json")).sort()) {
  const [scenario, server = "-"] = name.replace(/\.json$/, "").split(".");
  let report;
  try {
    report = JSON.parse(readFileSync(join(dir, name), "utf8"));
  } catch {
    report = { error: "unreadable report" };
  }
  ((reports[scenario] ??= {})[server] ??= []).push(report);
}

const median = (xs) => {
  const v = xs.filter((x) => typeof x === "number" && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
const pick = (runs, f) => median(runs.map((r) => (r.error ? undefined : f(r))));
const num = (x, digits = 0) =>
  x === undefined ? "–" : x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const ms = (us) => (us === undefined ? "–" : `${num(us / 1000, 2)} ms`);
const ratio = (x, floor) => (x === undefined || !floor ? "–" : `${num(x / floor, 2)}×`);
const failed = (runs) => runs.filter((r) => r.error).length;
const SERVERS = ["switchyard", "socketioxide", "node"];
const LABEL = { switchyard: "Switchyard", socketioxide: "socketioxide 0.18", node: "Node.js Socket.IO 4.8" };
const servers = (scenario) => SERVERS.filter((s) => reports[scenario]?.[s]);
const rounds = (scenario) => Math.max(0, ...Object.values(reports[scenario] ?? {}).map((r) => r.length));

const out = [];
const say = (line = "") => out.push(line);
const floorWrite = pick(reports["floor-write"]?.loadtest ?? [], (r) => r.cpu_us_per_message);
const floorEcho = pick(reports["floor-echo"]?.loadtest ?? [], (r) => r.cpu_us_per_message);
// The write floor paced like each fan-out (one write to every socket per round).
const floorPaced = Object.fromEntries(
  [50, 200].map((rate) => [rate, pick(reports[`floor-write${rate}`]?.loadtest ?? [], (r) => r.cpu_us_per_message)]),
);
const machine = (() => {
  try {
    return readFileSync(join(dir, "machine.txt"), "utf8").trim().split("\n");
  } catch {
    return [];
  }
})();

say("### Side by side (`scripts/bench-compare.sh`)");
say();
say("Servers pinned to core 0 (`taskset -c 0`), the load generator to core 1; servers");
say("alternated within each round; medians over the rounds. Server CPU is read from");
say("`/proc/<pid>/stat` over the measuring window.");
say();
for (const line of machine) say(`- ${line}`);
say();
if (floorWrite !== undefined || floorEcho !== undefined) {
  say("Kernel floor (`switchyard-loadtest floor`, one thread doing the work, another the peers):");
  say(`one 100-byte loopback write costs **${num(floorWrite, 2)} µs** of CPU; one read plus one`);
  say(`write (an echo) **${num(floorEcho, 2)} µs**.`);
  const paced = [50, 200].filter((rate) => floorPaced[rate] !== undefined);
  if (paced.length) {
    say(`Paced like the fan-outs (\`floor --rate R\`: a write to each of the 1,000 sockets R times a second,`);
    say(`so that the kernel wakes idle readers as it does in a fan-out): ${paced.map((rate) => `**${num(floorPaced[rate], 2)} µs** at ${rate}/s`).join(", ")}.`);
  }
  say();
}

if (reports.connect) {
  say(`**Idle memory** (${num(pick(Object.values(reports.connect).flat(), (r) => r.held))} WebSocket clients ramped at 2,000/s, held 5 s; RSS growth per client), ${rounds("connect")} rounds:`);
  say();
  say("| server | held | failures | RSS before | RSS held | per client | connect p50 | connect p99 |");
  say("|---|---|---|---|---|---|---|---|");
  for (const s of servers("connect")) {
    const r = reports.connect[s];
    say(
      `| ${LABEL[s]} | ${num(pick(r, (x) => x.held))} | ${num(pick(r, (x) => x.failures))} | ${num(pick(r, (x) => x.rss_before_kib / 1024), 1)} MiB | ${num(pick(r, (x) => x.rss_held_kib / 1024), 1)} MiB | **${num(pick(r, (x) => x.bytes_per_client / 1000), 1)} KB** | ${ms(pick(r, (x) => x.connect_us.p50))} | ${ms(pick(r, (x) => x.connect_us.p99))} |`,
    );
  }
  say();
}

if (reports.echo) {
  say(`**Echo**, 100 clients in a closed loop (emit with ack, 100-byte payload), ${rounds("echo")} rounds:`);
  say();
  say("| server | acks/s | server CPU per ack | vs echo floor | RTT p50 | RTT p99 | RTT p99.9 | lost |");
  say("|---|---|---|---|---|---|---|---|");
  for (const s of servers("echo")) {
    const r = reports.echo[s];
    const cpu = pick(r, (x) => x.server?.cpu_us_per_unit);
    say(
      `| ${LABEL[s]} | ${num(pick(r, (x) => x.acks_per_sec))} | **${num(cpu, 2)} µs** | ${ratio(cpu, floorEcho)} | ${ms(pick(r, (x) => x.rtt_us.p50))} | **${ms(pick(r, (x) => x.rtt_us.p99))}** | ${ms(pick(r, (x) => x.rtt_us.p999))} | ${num(pick(r, (x) => x.lost))} |`,
    );
  }
  say();
}

const fanoutRow = (label, r, paced) => {
  const cpu = pick(r, (x) => x.server?.cpu_us_per_unit);
  const bad = failed(r) ? ` (${failed(r)} run(s) failed)` : "";
  return `| ${label}${bad} | ${num(pick(r, (x) => x.deliveries_per_sec))} | ${num(pick(r, (x) => x.loss_ratio * 100), 3)} % | ${num(pick(r, (x) => x.duplicates))} / ${num(pick(r, (x) => x.out_of_order))} | ${ms(pick(r, (x) => x.latency_us.p50))} | **${ms(pick(r, (x) => x.latency_us.p99))}** | ${ms(pick(r, (x) => x.latency_us.max))} | **${num(cpu, 2)} µs** | ${ratio(cpu, floorWrite)} | ${ratio(cpu, paced)} |`;
};
const FANOUT_HEAD =
  "| server | delivered/s | lost | dup. / out of order | p50 | p99 | max | server CPU per delivery | vs write floor | vs paced floor |\n|---|---|---|---|---|---|---|---|---|---|";

for (const rate of [50, 200]) {
  const key = `fanout${rate}`;
  if (!reports[key]) continue;
  say(`**Fan-out**, 1,000 subscribers × ${rate} msg/s × 100 B (${num(rate * 1000)} deliveries/s), ${rounds(key)} rounds:`);
  say();
  say(FANOUT_HEAD);
  for (const s of servers(key)) say(fanoutRow(LABEL[s], reports[key][s], floorPaced[rate]));
  say();
}

const coalesce = Object.keys(reports).filter((k) => k.startsWith("coalesce-"));
if (coalesce.length) {
  say("**Write coalescing** (Switchyard `--write-delay-ms`), 1,000 subscribers, rates past the point where delay 0 saturates one core:");
  say();
  say(FANOUT_HEAD.replace("| server |", "| delay, offered rate |"));
  const parsed = coalesce
    .map((k) => ({ k, delay: Number(k.split("-")[1]), rate: Number(k.split("-")[2]) }))
    .sort((a, b) => a.rate - b.rate || a.delay - b.delay);
  for (const { k, delay, rate } of parsed) {
    say(fanoutRow(`${delay} ms, ${num(rate * 1000)}/s`, reports[k].switchyard));
  }
  say();
}

const cluster = Object.keys(reports).filter((k) => k.startsWith("cluster-"));
if (cluster.length) {
  say("**Cluster**: Switchyard, 2 nodes (both on core 0) through each broker, 1,000 subscribers spread over both, 200 msg/s × 100 B; server CPU summed over the nodes:");
  say();
  say(FANOUT_HEAD.replace("| server |", "| broker |"));
  for (const k of cluster.sort()) say(fanoutRow(k.replace("cluster-", ""), reports[k].switchyard));
  say();
}

if (reports.scale) {
  const r = reports.scale.switchyard;
  say(
    `**Scale**: one Switchyard node held ${num(pick(r, (x) => x.held))} idle WebSocket clients (${num(pick(r, (x) => x.failures))} failures), RSS ${num(pick(r, (x) => x.rss_held_kib / 1024), 1)} MiB, ${num(pick(r, (x) => x.bytes_per_client / 1000), 1)} KB per client; connect p99 ${ms(pick(r, (x) => x.connect_us.p99))}.`,
  );
  say();
}

process.stdout.write(`${out.join("\n")}\n`);
