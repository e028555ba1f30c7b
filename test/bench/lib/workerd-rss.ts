/** RSS of the workerd processes a bench started (wrangler dev's children), for the soak benches. */
import { execFileSync } from "node:child_process";

/** RSS (KiB) of every workerd process descending from this one (WORKERD_RSS_DETAIL=1: per process, stderr). */
export function workerdRssKiB(): number {
  const rows = execFileSync("ps", ["-eo", "pid=,ppid=,rss=,comm="], { encoding: "utf8" })
    .trim()
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .map(([pid, ppid, rss, comm]) => ({ pid: Number(pid), ppid: Number(ppid), rss: Number(rss), comm }));
  const parent = new Map(rows.map((r) => [r.pid, r.ppid]));
  const descends = (pid: number) => {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p))
      if (p === process.pid) return true;
    return false;
  };
  const ours = rows.filter((r) => r.comm === "workerd" && descends(r.pid));
  if (process.env.WORKERD_RSS_DETAIL)
    console.error(`workerd rss KiB: ${ours.map((r) => `${r.pid}=${r.rss}`).join(" ")}`);
  return ours.reduce((sum, r) => sum + r.rss, 0);
}
