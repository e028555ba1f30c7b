/**
 * One async job (Prefer: respond-async): a Durable Object per job id holding its state in DO storage, dispatched
 * by its own alarm. Why alarms and not Cloudflare Queues: a job is a per-id state machine that must be cancellable,
 * readable and retried on its own schedule up to its own deadline; an alarm is durable (it survives isolate
 * restarts and is retried by the platform until the handler succeeds), at-least-once, and sits next to the state
 * it changes, so no consumer has to look the job up and no dead-letter queue is needed: a job that cannot run
 * ends `failed` at its deadline with the last error.
 *
 * queued -> running -> succeeded | failed ; queued/running -> cancelled (POST cancel). A GPU outage (503) puts the
 * job back to queued with a backoff until its deadline. Each image is made through its single flight's stream
 * (as a `stream: true` request), so the job records the denoising steps as they happen, and a cancel leaves the
 * flights: one nobody else waits for stops on the GPU. Billing happens once, when every image exists and the job
 * was not cancelled: ledger rows keyed by (job id, cacheKey) with INSERT OR IGNORE, so a re-run alarm cannot bill
 * twice. The D1 `jobs` row mirrors the status for listing; both expire after the retention period.
 * @module
 */
import { DurableObject } from "cloudflare:workers";
import { insertLedgerRow, ledgerRows } from "../accounts/ledger";
import type { Principal } from "../accounts/store";
import { flightConcurrency, mapLimited } from "../generation/concurrency";
import { type PlannedImage, servedBase } from "../generation/plan";
import type { FlightOutcome } from "../objects/generation";
import { encodeFlightStreamRequest, readFlightEvents } from "../streaming/flight-events";
import type { ServedImage } from "../types";
import { attemptDelivery, type Delivery, retryBaseMs } from "../webhooks/deliveries";
import { signingSecrets } from "../webhooks/secrets";
import { deleteJobInput, type JobInput, readJobInput } from "./inputs";
import { jobView } from "./view";

export const JOB_RETENTION_MS = 7 * 24 * 3600 * 1000;
/** How long a job may wait for GPU capacity before it fails. */
export const JOB_DEADLINE_MS = 30 * 60 * 1000;
const RETRY_BASE_MS = 1000;
const RETRY_MAX_MS = 60_000;

export type JobStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled";
type Failure = Extract<FlightOutcome, { ok: false }>;

export interface JobSpec {
  id: string;
  principal: Principal;
  /** The images to make; an edit's jobs carry no pixels here (they are in `input`). */
  images: PlannedImage[];
  /** An edit's input picture, stored in R2 until the job is terminal (inputs.ts); null for text-to-image. */
  input?: JobInput | null;
  /** What the job's `result` echoes back (the sync response's fields). */
  summary: { size: string; quality: string; output_format: string; steps: number; pixels: number };
  createdAt: number;
  /** Base URL of the API, for the URLs in job objects sent to webhooks. */
  origin: string;
  webhook: { url: string; events: "completed" | "all" } | null;
}

/** What RPC can carry (`unknown` would make the stub's return type `never`). */
type Scalar = string | number | boolean | null;
type Json = Scalar | { [key: string]: Scalar };

export interface JobEvent {
  id: number;
  type: "queued" | "running" | "retrying" | "image" | "succeeded" | "failed" | "cancelled";
  at: number;
  data?: { [key: string]: Json };
}

export interface JobState {
  spec: JobSpec;
  status: JobStatus;
  attempts: number;
  startedAt: number | null;
  completedAt: number | null;
  served: (ServedImage | null)[];
  error: { message: string; type: string; param: null; code: string } | null;
  events: JobEvent[];
  billedMicros: number | null;
  /** When the job's next run is due (null once terminal). */
  runAt: number | null;
  /** Denoising steps done per image in the current run (kept under its own storage key, see #recordStep). */
  steps?: number[];
  deliveries: Delivery[];
}

const TERMINAL: JobStatus[] = ["succeeded", "failed", "cancelled"];

/** Least time between two writes of step progress (each image reports every step). */
const STEP_WRITE_MS = 250;

export class JobObject extends DurableObject<Env> {
  /** The run in progress in this instance: aborting it leaves its flights (cancel). */
  #inflight: AbortController | null = null;
  #steps: number[] = [];
  #stepsWrittenAt = 0;
  /** Set while the finished job is being billed: a cancel arriving then is too late (it would not be kept). */
  #billing = false;

  async #load(): Promise<JobState | null> {
    const state = (await this.ctx.storage.get<JobState>("job")) ?? null;
    if (state) state.steps = (await this.ctx.storage.get<number[]>("steps")) ?? [];
    return state;
  }

  /**
   * Deletes an ended job's input. Best effort: the job has ended either way (a failed delete is logged, and the
   * retention alarm deletes again, where a failure makes the platform retry the alarm).
   */
  async #dropInput(state: JobState): Promise<void> {
    try {
      await deleteJobInput(this.env, state.spec.input);
    } catch (err) {
      console.error(
        JSON.stringify({
          level: "error",
          msg: "job_input_delete_failed",
          job: state.spec.id,
          error: String(err),
        }),
      );
    }
  }

  /** Writes the job (without `steps`, which has its own key). */
  async #put(state: JobState): Promise<void> {
    const { steps: _steps, ...job } = state;
    await this.ctx.storage.put("job", job);
  }

  /**
   * Step progress goes to its own key, never into "job": a write of the run's copy of the job could otherwise
   * undo a cancel that landed meanwhile.
   */
  async #recordStep(index: number, step: number, force = false): Promise<void> {
    this.#steps[index] = Math.max(this.#steps[index] ?? 0, step);
    if (!force && Date.now() - this.#stepsWrittenAt < STEP_WRITE_MS) return;
    this.#stepsWrittenAt = Date.now();
    await this.ctx.storage.put("steps", [...this.#steps]);
  }

  async #save(state: JobState): Promise<void> {
    await this.#put(state);
    await this.env.DB.prepare("UPDATE jobs SET status = ?, updated_at = ? WHERE id = ?")
      .bind(state.status, Date.now(), state.spec.id)
      .run();
  }

  #event(state: JobState, type: JobEvent["type"], data?: { [key: string]: Json }): void {
    const event: JobEvent = { id: state.events.length + 1, type, at: Date.now(), ...(data ? { data } : {}) };
    state.events.push(event);
    const hook = state.spec.webhook;
    const terminal = type === "succeeded" || type === "failed" || type === "cancelled";
    if (hook && (hook.events === "all" || terminal)) {
      state.deliveries.push({
        id: `msg_${state.spec.id.slice(4)}_${event.id}`,
        event: `job.${type}`,
        payload: JSON.stringify({
          type: `job.${type}`,
          timestamp: new Date(event.at).toISOString(),
          data: { event, job: jobView(state, state.spec.origin) },
        }),
        state: "pending",
        attempts: [],
        nextAt: Date.now(),
      });
    }
  }

  /** One alarm for everything due: the job's next run, pending deliveries, the end of retention. */
  async #schedule(state: JobState): Promise<void> {
    const times = [state.spec.createdAt + JOB_RETENTION_MS];
    if (!TERMINAL.includes(state.status) && state.runAt !== null) times.push(state.runAt);
    for (const d of state.deliveries) if (d.state === "pending" && d.nextAt !== null) times.push(d.nextAt);
    await this.ctx.storage.setAlarm(Math.min(...times));
  }

  /** Attempts the deliveries that are due; merges their outcome into the freshest state (a cancel may land). */
  async #deliverDue(state: JobState): Promise<void> {
    const due = state.deliveries.filter((d) => d.state === "pending" && (d.nextAt ?? 0) <= Date.now());
    const hook = state.spec.webhook;
    if (due.length === 0 || !hook) return;
    const secrets = await signingSecrets(this.env.DB, state.spec.principal.accountId);
    for (const d of due) await attemptDelivery(d, hook.url, secrets, retryBaseMs(this.env));
    const fresh = (await this.#load()) ?? state;
    fresh.deliveries = fresh.deliveries.map((d) => due.find((x) => x.id === d.id) ?? d);
    await this.#put(fresh);
  }

  /** Creates the job (idempotent: a second create of the same id returns the stored state). */
  async create(spec: JobSpec): Promise<JobState> {
    const existing = await this.#load();
    if (existing) return existing;
    const state: JobState = {
      spec,
      status: "queued",
      attempts: 0,
      startedAt: null,
      completedAt: null,
      served: spec.images.map(() => null),
      error: null,
      events: [],
      billedMicros: null,
      runAt: Date.now(),
      deliveries: [],
    };
    this.#event(state, "queued");
    await this.#put(state);
    await this.ctx.storage.setAlarm(Date.now());
    return state;
  }

  async get(): Promise<JobState | null> {
    return this.#load();
  }

  /** Cancels a job that has not finished; an image that already exists stays cached but is not billed. */
  async cancel(): Promise<JobState | null> {
    const state = await this.#load();
    if (!state || TERMINAL.includes(state.status) || this.#billing) return state;
    state.status = "cancelled";
    state.completedAt = Date.now();
    state.runAt = null;
    // Leave the flights of the run in progress: a flight that only this job waits for stops on the GPU.
    this.#inflight?.abort();
    this.#event(state, "cancelled");
    await this.#save(state);
    await this.#dropInput(state);
    await this.#schedule(state);
    return state;
  }

  override async alarm(): Promise<void> {
    const state = await this.#load();
    if (!state) return;
    // Retention: the job is forgotten once the retention period since its creation has passed.
    if (Date.now() >= state.spec.createdAt + JOB_RETENTION_MS) {
      await this.env.DB.prepare("DELETE FROM jobs WHERE id = ?").bind(state.spec.id).run();
      await deleteJobInput(this.env, state.spec.input);
      await this.ctx.storage.deleteAll();
      return;
    }
    if (!TERMINAL.includes(state.status) && (state.runAt ?? 0) <= Date.now()) await this.#run(state);
    const latest = await this.#load();
    if (!latest) return;
    await this.#deliverDue(latest);
    const after = await this.#load();
    if (after) await this.#schedule(after);
  }

  async #run(state: JobState): Promise<void> {
    state.status = "running";
    state.attempts += 1;
    state.startedAt ??= Date.now();
    this.#event(state, "running", { attempt: state.attempts });
    await this.#save(state);

    const failures: Failure[] = [];
    let pixels: Uint8Array | null = null;
    let inputUnreadable = false;
    if (state.spec.input) {
      try {
        pixels = await readJobInput(this.env, state.spec.input);
      } catch (err) {
        // R2 failing is transient: the job goes back to queued and retries with the usual backoff.
        inputUnreadable = true;
        failures.push({
          ok: false,
          status: 503,
          retryAfterS: 1,
          message: `The job's input image could not be read; retrying (${String(err)})`,
          code: "job_input_unavailable",
        });
      }
    }
    if (state.spec.input && !pixels && !inputUnreadable) {
      // Not transient: the input is deleted only once the job is terminal, so a retry cannot bring it back.
      await this.#fail(state, {
        message: "The job's input image is no longer stored",
        type: "server_error",
        param: null,
        code: "job_input_missing",
      });
      return;
    }
    const inflight = new AbortController();
    this.#inflight = inflight;
    this.#steps = state.spec.images.map((image, i) => (state.served[i] ? servedBase(image).steps : 0));
    await this.#recordStep(0, 0, true);
    try {
      await mapLimited(state.spec.images, flightConcurrency(state.spec.images), async (image, i) => {
        if (state.served[i] || inflight.signal.aborted || inputUnreadable) return;
        const job = pixels ? { ...image, job: { ...image.job, initPixels: pixels } } : image;
        const outcome = await this.#resolve(job, i, inflight.signal);
        if ("served" in outcome) {
          state.served[i] = outcome.served;
          await this.#recordStep(i, outcome.served.steps, true);
          this.#event(state, "image", { index: i });
        } else failures.push(outcome);
      });
    } finally {
      if (this.#inflight === inflight) this.#inflight = null;
    }
    // A cancel that landed while the images were being made wins: nothing is billed.
    const latest = await this.#load();
    if (!latest || latest.status === "cancelled") return;
    if (failures.length === 0) {
      this.#billing = true;
      try {
        await this.#bill(state);
      } finally {
        this.#billing = false;
      }
      return;
    }
    const fatal = failures.find((f) => f.status !== 503);
    const f = fatal ?? failures[0];
    const error = {
      message: f.message,
      type: f.status === 503 ? "service_unavailable" : "server_error",
      param: null,
      code: f.code,
    };
    state.error = error;
    const backoff = Math.min(
      RETRY_MAX_MS,
      Math.max(RETRY_BASE_MS * 2 ** (state.attempts - 1), f.retryAfterS * 1000),
    );
    // Jitter spreads jobs that failed together over the next window.
    const wait = Math.round(backoff * (0.5 + Math.random() * 0.5));
    if (!fatal && Date.now() + wait < state.spec.createdAt + JOB_DEADLINE_MS) {
      state.status = "queued";
      state.runAt = Date.now() + wait;
      this.#event(state, "retrying", { in_ms: wait, error });
      await this.#save(state);
      return;
    }
    await this.#fail(state, error);
  }

  async #fail(state: JobState, error: NonNullable<JobState["error"]>): Promise<void> {
    state.error = error;
    state.status = "failed";
    state.completedAt = Date.now();
    state.runAt = null;
    this.#event(state, "failed", { error });
    await this.#save(state);
    await this.#dropInput(state);
  }

  async #resolve(
    image: PlannedImage,
    index: number,
    signal: AbortSignal,
  ): Promise<{ served: ServedImage } | Failure> {
    const base = servedBase(image);
    const head = await this.env.IMAGES.head(image.cacheKey);
    if (head) return { served: { ...base, cache: "hit", source: "r2", bytes: head.size } };
    const stub = this.env.GENERATION.get(this.env.GENERATION.idFromName(image.cacheKey));
    try {
      // The flight's stream, as for `stream: true` (no previews): steps as they happen, and leaving on cancel.
      const response = await stub.fetch("https://flight/stream", {
        method: "POST",
        body: encodeFlightStreamRequest({ job: image.job, previews: 0 }),
      });
      if (!response.ok || !response.body) throw new Error(`flight answered ${response.status}`);
      const outcome = await readFlightEvents(
        response.body,
        async (event) => {
          if (event.type === "step") await this.#recordStep(index, event.step);
        },
        signal,
      );
      if (!outcome.ok) return outcome;
      return { served: { ...base, cache: "miss", source: outcome.source, bytes: outcome.size } };
    } catch (err) {
      const message = `generation failed: ${String(err)}`;
      return { ok: false, status: 503, retryAfterS: 1, message, code: "generation_failed" };
    }
  }

  async #bill(state: JobState): Promise<void> {
    const served = state.served.filter((s): s is ServedImage => s !== null);
    const rows = ledgerRows(state.spec.principal, state.spec.id, served, Date.now());
    if (rows.length > 0) await this.env.DB.batch(rows.map((row) => insertLedgerRow(this.env.DB, row, true)));
    state.billedMicros = rows.reduce((sum, row) => sum + row.amountMicros, 0);
    state.status = "succeeded";
    state.error = null;
    state.completedAt = Date.now();
    state.runAt = null;
    this.#event(state, "succeeded");
    await this.#save(state);
    await this.#dropInput(state);
  }
}
