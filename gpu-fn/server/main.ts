/**
 * `npm run gpu-fn`: the GPU function server. Configuration: MODEL_DIR, PORT, HOST, EXECUTION_PROVIDER
 * (cpu|cuda|auto), GPU_HMAC_SECRET, GPU_AUDIENCE (the URL(s) the edge calls it at), METRICS_TOKEN, MAX_BATCH, MAX_WAIT_MS, MAX_QUEUE, MAX_SIDE, WARMUP_SIZE,
 * DRAIN_TIMEOUT_MS (see config.ts).
 * SIGTERM/SIGINT drain gracefully; a failed model load exits with status 1.
 * @module
 */
import { loadConfig } from "./config";
import { startGpuFn } from "./start";

const log = (line: string) => console.log(`${new Date().toISOString()} gpu-fn ${line}`);

async function main(): Promise<void> {
  const cfg = loadConfig(process.env);
  const fn = await startGpuFn(cfg, log);
  let signalled = false;
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      if (signalled) return;
      signalled = true;
      log(`${signal}: draining`);
      void fn.shutdown().then(() => process.exit(0));
    });
  }
  fn.ready.catch(() => {
    void fn.shutdown().then(() => process.exit(1));
  });
}

main().catch((err: Error) => {
  log(`fatal: ${err.message}`);
  process.exit(1);
});
