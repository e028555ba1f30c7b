/**
 * Prometheus metrics of the GPU function (prom-client): queue depth, batch sizes, per-stage latency, images,
 * errors, readiness, plus the process defaults (RSS, event-loop lag, GC).
 * @module
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export const STAGES = [
  "queue",
  "tokenize",
  "text_encoder",
  "resize",
  "vae_encode",
  "step",
  "denoise",
  "decode",
  "preview",
  "postprocess",
  "image_encode",
  "total",
] as const;
export type Stage = (typeof STAGES)[number];

export class GpuMetrics {
  readonly registry = new Registry();
  readonly queueDepth: Gauge;
  readonly inFlight: Gauge;
  readonly ready: Gauge;
  readonly batchSize: Histogram;
  readonly stageSeconds: Histogram<"stage">;
  readonly images: Counter<"format">;
  readonly errors: Counter<"status" | "code">;
  readonly requests: Counter<"status">;

  constructor(opts: { maxBatch: number; queueDepth: () => number; inFlight: () => number }) {
    const registers = [this.registry];
    this.queueDepth = new Gauge({
      name: "zi_queue_depth",
      help: "Requests waiting for the inference engine",
      registers,
      collect() {
        this.set(opts.queueDepth());
      },
    });
    this.inFlight = new Gauge({
      name: "zi_batch_in_flight",
      help: "Requests in the batch the engine is computing",
      registers,
      collect() {
        this.set(opts.inFlight());
      },
    });
    this.ready = new Gauge({ name: "zi_ready", help: "1 when models are loaded and warmed up", registers });
    this.batchSize = new Histogram({
      name: "zi_batch_size",
      help: "Requests per dispatched batch",
      buckets: Array.from({ length: Math.max(1, opts.maxBatch) }, (_, i) => i + 1),
      registers,
    });
    this.stageSeconds = new Histogram({
      name: "zi_stage_seconds",
      help: "Latency per pipeline stage (step = one Euler step of a batch; total = request end to end)",
      labelNames: ["stage"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.images = new Counter({
      name: "zi_images_total",
      help: "Images returned",
      labelNames: ["format"],
      registers,
    });
    this.errors = new Counter({
      name: "zi_errors_total",
      help: "Requests answered with an error",
      labelNames: ["status", "code"],
      registers,
    });
    this.requests = new Counter({
      name: "zi_requests_total",
      help: "POST /v1/infer requests by status",
      labelNames: ["status"],
      registers,
    });
    collectDefaultMetrics({ register: this.registry, prefix: "zi_" });
  }

  observeStage(stage: Stage, ms: number): void {
    this.stageSeconds.observe({ stage }, ms / 1000);
  }
}
