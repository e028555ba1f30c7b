/**
 * Main-thread handle on the inference worker: starts it, waits for "ready", sends one batch at a time and
 * resolves with its images. A worker crash fails the batch in flight and marks the engine dead (readiness off).
 * @module
 */
import { Worker } from "node:worker_threads";
import type { GenerationJob } from "../pipeline/text-to-image";

import type { FromWorker, ToWorker, WorkerImage, WorkerOptions } from "./worker-protocol";

/** How long close() waits for the worker to exit between two session runs before terminating it. */
const CLOSE_GRACE_MS = 30_000;

export type EngineReady = Extract<FromWorker, { type: "ready" }>;
export type BatchDone = Extract<FromWorker, { type: "done" }>;

/** Progress of a running batch: steps are batch-wide, previews belong to one job (its index in the batch). */
export interface BatchEvents {
  onStep?: (step: number, total: number) => void;
  onPreview?: (job: number, index: number, step: number, image: WorkerImage) => void;
}

const WORKER_ENTRY = new URL("./worker-entry.mjs", import.meta.url);

interface InFlight {
  id: number;
  resolve: (done: BatchDone) => void;
  reject: (err: Error) => void;
  events: BatchEvents;
}

export class InferenceEngine {
  readonly #worker: Worker;
  readonly #ready: Promise<EngineReady>;
  #inFlight: InFlight | null = null;
  #nextId = 1;
  #dead: Error | null = null;
  #exited = false;
  info: EngineReady | null = null;

  /** Called once when the worker dies or fails to load (after which every run rejects). */
  onDead: ((err: Error) => void) | null = null;

  constructor(opts: WorkerOptions, log: (line: string) => void = console.log) {
    this.#worker = new Worker(WORKER_ENTRY, { workerData: opts });
    this.#ready = new Promise((resolve, reject) => {
      this.#worker.on("message", (msg: FromWorker) => {
        switch (msg.type) {
          case "ready":
            this.info = msg;
            resolve(msg);
            return;
          case "init-error":
            this.#fail(new Error(msg.message));
            reject(this.#dead);
            return;
          case "log":
            log(msg.line);
            return;
          case "step":
            if (this.#inFlight?.id === msg.id) this.#inFlight.events.onStep?.(msg.step, msg.total);
            return;
          case "preview":
            if (this.#inFlight?.id === msg.id)
              this.#inFlight.events.onPreview?.(msg.job, msg.index, msg.step, msg.image);
            return;
          case "done":
          case "error": {
            const job = this.#inFlight;
            if (!job || job.id !== msg.id) return;
            this.#inFlight = null;
            if (msg.type === "done") job.resolve(msg);
            else job.reject(new Error(msg.message));
            return;
          }
        }
      });
      this.#worker.on("error", (err) => {
        this.#fail(err);
        reject(err);
      });
      this.#worker.on("exit", (code) => {
        this.#exited = true;
        this.#fail(new Error(`inference worker exited with code ${code}`));
        reject(this.#dead);
      });
    });
    this.#ready.catch(() => {}); // observed through ready()
  }

  /** Resolves once the models are loaded and warmed up; rejects if that fails. */
  ready(): Promise<EngineReady> {
    return this.#ready;
  }

  get alive(): boolean {
    return this.#dead === null;
  }

  get busy(): boolean {
    return this.#inFlight !== null;
  }

  /** Runs one batch; `cancel` holds one Int32 flag per job (set by the caller when a client goes away). */
  run(jobs: GenerationJob[], cancel: SharedArrayBuffer, events: BatchEvents = {}): Promise<BatchDone> {
    if (this.#dead) return Promise.reject(this.#dead);
    if (this.#inFlight) return Promise.reject(new Error("inference engine is busy"));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#inFlight = { id, resolve, reject, events };
      const msg: ToWorker = { type: "generate", id, jobs, cancel };
      this.#worker.postMessage(msg);
    });
  }

  /**
   * Fails the batch in flight at once, then lets the worker exit between two session runs. Terminating it during
   * a run aborts the whole process: the native run returns into a stopped JS environment and onnxruntime-node's
   * N-API wrapper throws where nothing can catch it (std::terminate). terminate() stays the fallback for a
   * worker that does not exit within CLOSE_GRACE_MS (a hung run).
   */
  async close(): Promise<void> {
    this.#fail(new Error("inference engine closed"));
    if (this.#exited) return;
    const exited = new Promise<void>((resolve) => this.#worker.once("exit", () => resolve()));
    this.#worker.postMessage({ type: "shutdown" } satisfies ToWorker);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), CLOSE_GRACE_MS);
    });
    const first = await Promise.race([exited, timeout]);
    clearTimeout(timer);
    if (first === "timeout") await this.#worker.terminate();
  }

  #fail(err: Error): void {
    if (!this.#dead) {
      this.#dead = err;
      this.onDead?.(err);
    }
    const job = this.#inFlight;
    this.#inFlight = null;
    job?.reject(err);
  }
}
