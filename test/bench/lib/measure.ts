/**
 * autocannon runs for the edge benchmarks: a warm-up, then the measured run, both bounded in request count
 * and time; rounds are summarized by their medians.
 * @module
 */
import autocannon from "autocannon";

export interface Row {
  name: string;
  /** autocannon's percentiles have 1 ms resolution; the mean shows sub-millisecond differences. */
  mean: number;
  p50: number;
  p99: number;
  rps: number;
  requests: number;
  non2xx: number;
}

export interface Bounds {
  connections: number;
  /** Time limit of each run, seconds. */
  maxSeconds: number;
  warmup: number;
  requests: number;
}

export async function measure(name: string, opts: autocannon.Options, bounds: Bounds): Promise<Row> {
  const limits = { connections: bounds.connections, duration: bounds.maxSeconds };
  await autocannon({ ...opts, ...limits, amount: bounds.warmup });
  const r = await autocannon({ ...opts, ...limits, amount: bounds.requests });
  return {
    name,
    mean: r.latency.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    rps: r.requests.average,
    requests: r.requests.total,
    non2xx: r.non2xx + r.errors,
  };
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Per target (in insertion order): the medians of its rounds, and its failed requests summed over them. */
export function medianRows(runs: Map<string, Row[]>): Omit<Row, "requests">[] {
  return [...runs.values()].map((rs) => ({
    name: rs[0].name,
    mean: median(rs.map((r) => r.mean)),
    p50: median(rs.map((r) => r.p50)),
    p99: median(rs.map((r) => r.p99)),
    rps: median(rs.map((r) => r.rps)),
    non2xx: rs.reduce((n, r) => n + r.non2xx, 0),
  }));
}
