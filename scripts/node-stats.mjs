// What the scripts read of a running node: its /metrics, and its process
// in /proc (RSS, CPU time).
import { readFileSync } from "node:fs";

/** A node's Prometheus text. */
export async function metrics(node) {
  return (await fetch(`${node.url}/metrics`)).text();
}

/** The sum of every series of metric `name` (labelled or not) whose line passes `keep`. */
export function metricSum(text, name, keep = () => true) {
  return text
    .split("\n")
    .filter((line) => (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) && keep(line))
    .reduce((sum, line) => sum + Number(line.split(" ").at(-1)), 0);
}

/** Resident memory of a process, KiB. */
export function rssKiB(pid) {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
}

const TICKS = 100; // clock ticks per second (USER_HZ)

/** User and system CPU time of a process, seconds. */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}
