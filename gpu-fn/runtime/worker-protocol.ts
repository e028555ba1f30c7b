/** Messages between the server (main thread) and the inference worker that owns the ONNX Runtime sessions. */
import type { BatchTimings, GenerationJob } from "../pipeline/text-to-image";
import type { ActiveProvider, ExecutionProviderSetting } from "./execution-provider";

export interface WorkerOptions {
  modelDir: string;
  executionProvider: ExecutionProviderSetting;
  /** Size of the one-step warm-up generation run after loading (null: none), so the first request does not pay
   * for lazy initialisation; the model's default size warms up the shapes that matter. */
  warmup: { width: number; height: number } | null;
}

export type ToWorker =
  | {
      type: "generate";
      id: number;
      jobs: GenerationJob[];
      /** Int32 per job; non-zero = cancelled (the client went away). Shared so the worker sees it between steps. */
      cancel: SharedArrayBuffer;
    }
  /** Exit at the next point where no session.run is on the stack (see InferenceEngine.close). */
  | { type: "shutdown" };

export interface WorkerImage {
  width: number;
  height: number;
  rgb: Uint8Array;
}

export type FromWorker =
  | {
      type: "ready";
      provider: ActiveProvider;
      revision: string;
      name: string;
      loadMs: number;
      warmupMs: number;
    }
  | { type: "init-error"; message: string }
  | { type: "log"; line: string }
  | { type: "step"; id: number; step: number; total: number }
  | { type: "preview"; id: number; job: number; index: number; step: number; image: WorkerImage }
  | {
      type: "done";
      id: number;
      images: (WorkerImage | null)[];
      timings: BatchTimings;
      sessionRunMs: number;
      computeMs: number;
    }
  | { type: "error"; id: number; message: string };
