/**
 * Dynamic batcher in front of the single inference engine. Requests wait in one bounded FIFO queue; when the
 * engine is free, the oldest request's compatibility group (same size, steps, guidance mode, start step) is dispatched once
 * it has `maxBatch` members or the oldest has waited `maxWaitMs`. Expired deadlines and aborted clients are
 * dropped before compute; a client that goes away mid-batch is cancelled between steps.
 * @module
 */
import { type GenerationJob, jobStartStep } from "../pipeline/text-to-image";
import type { BatchDone, BatchEvents } from "../runtime/inference-engine";
import type { WorkerImage } from "../runtime/worker-protocol";

export class QueueFullError extends Error {
  override name = "QueueFullError";
}
export class DeadlineExceededError extends Error {
  override name = "DeadlineExceededError";
}
export class ClientGoneError extends Error {
  override name = "ClientGoneError";
}
export class DrainingError extends Error {
  override name = "DrainingError";
}

export interface BatchRunner {
  run(jobs: GenerationJob[], cancel: SharedArrayBuffer, events?: BatchEvents): Promise<BatchDone>;
}

/** Progress of one submitted job (the streaming form of /v1/infer listens to these). */
export interface ItemEvents {
  /** Its batch was dispatched to the engine. */
  onStart?: (info: { batchSize: number; queueMs: number }) => void;
  onStep?: (step: number, total: number) => void;
  onPreview?: (index: number, step: number, image: WorkerImage) => void;
}

export interface BatcherOptions {
  maxBatch: number;
  maxWaitMs: number;
  maxQueue: number;
  now?: () => number;
  /** Called with each dispatched batch's size and its outcome (metrics). */
  onBatch?: (info: { size: number; done?: BatchDone; error?: Error }) => void;
}

export interface ItemResult {
  image: WorkerImage;
  queueMs: number;
  batchSize: number;
  done: BatchDone;
}

interface Pending {
  job: GenerationJob;
  key: string;
  enqueuedAt: number;
  deadlineMs?: number;
  signal?: AbortSignal;
  events?: ItemEvents;
  resolve: (r: ItemResult) => void;
  reject: (e: Error) => void;
}

/**
 * Requests that may share a transformer call: same latent size and step count, the same guidance mode, and the
 * same start step (image-to-image jobs start at t_start; text-to-image and strength-1 jobs at 0).
 */
export function batchKey(job: GenerationJob): string {
  return `${job.width}x${job.height}/${job.steps}/${job.guidanceScale > 0 ? "cfg" : "plain"}/t${jobStartStep(job)}`;
}

export class DynamicBatcher {
  readonly #runner: BatchRunner;
  readonly #opts: Required<Omit<BatcherOptions, "onBatch">> & Pick<BatcherOptions, "onBatch">;
  #queue: Pending[] = [];
  #running = false;
  #timer: NodeJS.Timeout | null = null;
  #draining = false;
  #idleWaiters: (() => void)[] = [];

  constructor(runner: BatchRunner, opts: BatcherOptions) {
    this.#runner = runner;
    this.#opts = { now: Date.now, ...opts };
    if (opts.maxBatch < 1 || opts.maxQueue < 1) throw new Error("maxBatch and maxQueue must be >= 1");
  }

  get depth(): number {
    return this.#queue.length;
  }

  get running(): boolean {
    return this.#running;
  }

  /** Queues a job; rejects with QueueFullError / DrainingError at once, later with the job's outcome. */
  submit(
    job: GenerationJob,
    opts: { deadlineMs?: number; signal?: AbortSignal; events?: ItemEvents } = {},
  ): Promise<ItemResult> {
    const refusal = this.refusal();
    if (refusal) return Promise.reject(refusal);
    return new Promise((resolve, reject) => {
      const p: Pending = {
        job,
        key: batchKey(job),
        enqueuedAt: this.#opts.now(),
        deadlineMs: opts.deadlineMs,
        signal: opts.signal,
        events: opts.events,
        resolve,
        reject,
      };
      // A queued request whose client leaves is removed at once (no compute, frees a queue slot).
      opts.signal?.addEventListener(
        "abort",
        () => {
          const i = this.#queue.indexOf(p);
          if (i >= 0) {
            this.#queue.splice(i, 1);
            reject(new ClientGoneError("client disconnected while queued"));
            this.#notifyIdle();
          }
        },
        { once: true },
      );
      this.#queue.push(p);
      this.#pump();
    });
  }

  /** Why a submit now would be refused at once (draining, queue full), or null when it would be queued. */
  refusal(): Error | null {
    if (this.#draining) return new DrainingError("server is draining");
    if (this.#queue.length >= this.#opts.maxQueue) return new QueueFullError("queue is full");
    return null;
  }

  /** 1-based position of the job submitted with these events among the queued jobs; 0 once dispatched. */
  queuePosition(events: ItemEvents): number {
    return this.#queue.findIndex((p) => p.events === events) + 1;
  }

  /** Stops accepting work; resolves when the queue is empty and no batch is running. */
  drain(): Promise<void> {
    this.#draining = true;
    this.#pump();
    return new Promise((resolve) => {
      this.#idleWaiters.push(resolve);
      this.#notifyIdle();
    });
  }

  get draining(): boolean {
    return this.#draining;
  }

  #notifyIdle(): void {
    if (this.#running || this.#queue.length > 0) return;
    for (const w of this.#idleWaiters.splice(0)) w();
  }

  #pump(): void {
    if (this.#running) return;
    this.#dropDead();
    if (this.#queue.length === 0) {
      this.#notifyIdle();
      return;
    }
    const now = this.#opts.now();
    const head = this.#queue[0];
    const group = this.#queue.filter((p) => p.key === head.key);
    const waited = now - head.enqueuedAt;
    if (group.length < this.#opts.maxBatch && waited < this.#opts.maxWaitMs && !this.#draining) {
      if (!this.#timer) {
        this.#timer = setTimeout(() => {
          this.#timer = null;
          this.#pump();
        }, this.#opts.maxWaitMs - waited);
      }
      return;
    }
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    const batch = group.slice(0, this.#opts.maxBatch);
    this.#queue = this.#queue.filter((p) => !batch.includes(p));
    void this.#dispatch(batch, now);
  }

  /** Rejects queued requests whose deadline passed or whose client left. */
  #dropDead(): void {
    const now = this.#opts.now();
    this.#queue = this.#queue.filter((p) => {
      if (p.deadlineMs !== undefined && now > p.deadlineMs) {
        p.reject(new DeadlineExceededError("deadline expired while queued"));
        return false;
      }
      if (p.signal?.aborted) {
        p.reject(new ClientGoneError("client disconnected while queued"));
        return false;
      }
      return true;
    });
  }

  async #dispatch(batch: Pending[], startedAt: number): Promise<void> {
    this.#running = true;
    const cancel = new SharedArrayBuffer(4 * batch.length);
    const flags = new Int32Array(cancel);
    const listeners = batch.map((p, k) => {
      const onAbort = () => Atomics.store(flags, k, 1);
      p.signal?.addEventListener("abort", onAbort, { once: true });
      return onAbort;
    });
    for (const p of batch)
      p.events?.onStart?.({ batchSize: batch.length, queueMs: startedAt - p.enqueuedAt });
    try {
      const done = await this.#runner.run(
        batch.map((p) => p.job),
        cancel,
        {
          onStep: (step, total) => {
            batch.forEach((p, k) => {
              if (!Atomics.load(flags, k)) p.events?.onStep?.(step, total);
            });
          },
          onPreview: (k, index, step, image) => batch[k]?.events?.onPreview?.(index, step, image),
        },
      );
      this.#opts.onBatch?.({ size: batch.length, done });
      batch.forEach((p, k) => {
        const image = done.images[k];
        if (image) p.resolve({ image, queueMs: startedAt - p.enqueuedAt, batchSize: batch.length, done });
        else p.reject(new ClientGoneError("client disconnected during compute"));
      });
    } catch (err) {
      this.#opts.onBatch?.({ size: batch.length, error: err as Error });
      for (const p of batch) p.reject(err as Error);
    } finally {
      batch.forEach((p, k) => {
        p.signal?.removeEventListener("abort", listeners[k]);
      });
      this.#running = false;
      this.#pump();
    }
  }
}
