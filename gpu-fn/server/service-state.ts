/**
 * Lifecycle of the GPU function: starting -> ready -> draining, or failed (model load or worker crash).
 * Drives /readyz, /healthz and whether /v1/infer accepts work.
 * @module
 */
export type Phase = "starting" | "ready" | "draining" | "failed";

export class ServiceState {
  phase: Phase = "starting";
  reason: string | null = "loading models";
  info: Record<string, string | number> = {};
  #onChange: (phase: Phase) => void;

  constructor(onChange: (phase: Phase) => void = () => {}) {
    this.#onChange = onChange;
  }

  get ready(): boolean {
    return this.phase === "ready";
  }

  /** Liveness: false only when the process cannot serve any more (failed). */
  get alive(): boolean {
    return this.phase !== "failed";
  }

  markReady(info: Record<string, string | number>): void {
    if (this.phase !== "starting") return;
    this.info = info;
    this.#set("ready", null);
  }

  markDraining(): void {
    if (this.phase === "failed") return;
    this.#set("draining", "shutting down");
  }

  markFailed(reason: string): void {
    this.#set("failed", reason);
  }

  #set(phase: Phase, reason: string | null): void {
    this.phase = phase;
    this.reason = reason;
    this.#onChange(phase);
  }
}
