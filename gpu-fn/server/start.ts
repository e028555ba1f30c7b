/**
 * Wires the GPU function together: model folder -> tokenizer (main thread) + inference worker (sessions),
 * dynamic batcher, metrics, Hono app on @hono/node-server. The HTTP port opens at once so /healthz and /readyz
 * answer while the models load; /v1/infer accepts work once the worker has warmed up.
 * @module
 */
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { MemoryNonceStore } from "../../shared/hmac";
import { imageToImageUnsupported, loadModelFolder } from "../model/model-folder";
import { InferenceEngine } from "../runtime/inference-engine";
import { loadPromptEncoder } from "../runtime/prompt-encoder";
import { createApp } from "./app";
import { DynamicBatcher } from "./batcher";
import type { GpuFnConfig } from "./config";
import { InferService } from "./infer-service";
import { GpuMetrics } from "./metrics";
import { ServiceState } from "./service-state";

export interface GpuFnHandle {
  /** The address the server is bound to (HOST), as the socket reports it. */
  host: string;
  port: number;
  state: ServiceState;
  batcher: DynamicBatcher;
  engine: InferenceEngine;
  metrics: GpuMetrics;
  /** Resolves when the models are ready (rejects if loading failed). */
  ready: Promise<void>;
  /** Graceful stop: refuse new work (503), finish queued and running batches, close the port and the worker. */
  shutdown(): Promise<void>;
}

export interface StartOptions {
  /** Readiness also waits for this (e.g. an external dependency check; tests use it to observe "starting"). */
  readyGate?: Promise<void>;
}

export async function startGpuFn(
  cfg: GpuFnConfig,
  log: (line: string) => void,
  opts: StartOptions = {},
): Promise<GpuFnHandle> {
  const startedAt = Date.now();
  if (cfg.audiences.length === 0) {
    log("GPU_AUDIENCE is unset: signatures are not bound to this instance (a replay on another one passes)");
  }
  const folder = loadModelFolder(cfg.modelDir);
  const { model } = folder;
  const encoder = await loadPromptEncoder(folder, log);
  const warmupSide = cfg.warmupSize;
  const engine = new InferenceEngine(
    {
      modelDir: cfg.modelDir,
      executionProvider: cfg.executionProvider,
      warmup:
        warmupSide === 0
          ? null
          : warmupSide > 0
            ? { width: warmupSide, height: warmupSide }
            : { width: model.defaults.width, height: model.defaults.height },
    },
    log,
  );

  let lastBatchMs = 1000;
  let inFlight = 0;
  let metrics: GpuMetrics | null = null;
  const batcher = new DynamicBatcher(
    {
      run: (jobs, cancel, events) => {
        inFlight = jobs.length;
        return engine.run(jobs, cancel, events).finally(() => {
          inFlight = 0;
        });
      },
    },
    {
      maxBatch: cfg.maxBatch,
      maxWaitMs: cfg.maxWaitMs,
      maxQueue: cfg.maxQueue,
      onBatch: ({ size, done, error }) => {
        metrics?.batchSize.observe(size);
        if (done) {
          lastBatchMs = done.computeMs;
          for (const ms of done.timings.stepMs) metrics?.observeStage("step", ms);
        }
        if (error) log(`batch of ${size} failed: ${error.message}`);
      },
    },
  );
  metrics = new GpuMetrics({
    maxBatch: cfg.maxBatch,
    queueDepth: () => batcher.depth,
    inFlight: () => inFlight,
  });
  const m = metrics;
  const state = new ServiceState((phase) => {
    m.ready.set(phase === "ready" ? 1 : 0);
    log(`state: ${phase}`);
  });
  const service = new InferService({
    batcher,
    encoder,
    metrics: m,
    model: { name: model.name, revision: model.revision },
    imageToImageUnsupported: imageToImageUnsupported(folder.dir, folder.model),
    maxSide: cfg.maxSide,
  });
  const retryAfterSeconds = () =>
    Math.max(1, Math.ceil(((batcher.depth / cfg.maxBatch + 1) * lastBatchMs) / 1000));
  const app = createApp({
    service,
    state,
    metrics: m,
    hmac: {
      secret: cfg.hmacSecret,
      nonces: new MemoryNonceStore(),
      maxSkewMs: cfg.hmacMaxSkewMs,
      audiences: cfg.audiences,
      // The nonce memory is this process': a signature made before it started could be a replay.
      notBeforeMs: startedAt,
    },
    metricsToken: cfg.metricsToken,
    retryAfterSeconds,
    log,
    heartbeatMs: cfg.heartbeatMs,
  });

  const server = serve({ fetch: app.fetch, port: cfg.port, hostname: cfg.host });
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  const { address: host, port } = server.address() as AddressInfo;
  log(
    `listening on ${host}:${port} (model ${model.name} ${model.revision}, provider setting ${cfg.executionProvider}` +
      `, /metrics ${cfg.metricsToken ? "behind METRICS_TOKEN" : "open"})`,
  );

  engine.onDead = (err) => {
    if (state.phase !== "ready") return; // load failures are reported by `ready`; shutdown closes it on purpose
    log(`inference worker died: ${err.message}`);
    state.markFailed(`inference worker died: ${err.message}`);
  };

  const ready = Promise.all([engine.ready(), opts.readyGate]).then(
    ([info]) => {
      log(
        `models ready on ${info.provider.toUpperCase()}: load ${info.loadMs.toFixed(0)} ms, warm-up ${info.warmupMs.toFixed(0)} ms`,
      );
      state.markReady({ provider: info.provider, revision: info.revision, model: info.name });
    },
    (err: Error) => {
      log(`model load failed: ${err.message}`);
      state.markFailed(err.message);
      throw err;
    },
  );
  ready.catch(() => {});

  let stopping: Promise<void> | null = null;
  const shutdown = () => {
    stopping ??= (async () => {
      state.markDraining();
      const drained = batcher.drain();
      const timeout = new Promise<"timeout">((r) =>
        setTimeout(() => r("timeout"), cfg.drainTimeoutMs).unref(),
      );
      if ((await Promise.race([drained, timeout])) === "timeout") log("drain timed out; stopping anyway");
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        if ("closeIdleConnections" in server) server.closeIdleConnections();
      });
      await engine.close();
      log("stopped");
    })();
    return stopping;
  };

  return { host, port, state, batcher, engine, metrics: m, ready, shutdown };
}
