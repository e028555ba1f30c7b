/**
 * Worker-thread entry (loaded through worker-entry.mjs): owns the ONNX Runtime sessions, because session.run
 * blocks its thread. Loads the model folder, warms up, then runs one batch at a time.
 * @module
 */
import { parentPort, workerData } from "node:worker_threads";
import { loadModelFolder } from "../model/model-folder";
import { ZImagePipeline } from "../pipeline/text-to-image";
import { OrtPipelineModels, openModelSessions, pipelineConfigOf } from "./ort-models";
import type { FromWorker, ToWorker, WorkerOptions } from "./worker-protocol";

const port = parentPort;
if (!port) throw new Error("inference-worker must run in a worker thread");
const post = (msg: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);
const log = (line: string) => post({ type: "log", line });

async function init(opts: WorkerOptions): Promise<{ pipeline: ZImagePipeline; models: OrtPipelineModels }> {
  const t0 = performance.now();
  const folder = loadModelFolder(opts.modelDir);
  const { sessions, provider } = await openModelSessions(folder, opts.executionProvider, log);
  const models = new OrtPipelineModels(sessions, folder.model);
  const pipeline = new ZImagePipeline(models, pipelineConfigOf(folder.model));
  const loadMs = performance.now() - t0;
  let warmupMs = 0;
  if (opts.warmup) {
    const t1 = performance.now();
    // One step with CFG, so every graph and code path has run once.
    const { width, height } = opts.warmup;
    await pipeline.generate([
      { width, height, steps: 1, guidanceScale: 1, promptIds: [0], negativePromptIds: [0], seed: 0 },
    ]);
    warmupMs = performance.now() - t1;
  }
  post({
    type: "ready",
    provider,
    revision: folder.model.revision,
    name: folder.model.name,
    loadMs,
    warmupMs,
  });
  return { pipeline, models };
}

async function main(): Promise<void> {
  let state: Awaited<ReturnType<typeof init>>;
  try {
    state = await init(workerData as WorkerOptions);
  } catch (err) {
    post({ type: "init-error", message: (err as Error).message });
    return;
  }
  const { pipeline, models } = state;
  port!.on("message", async (msg: ToWorker) => {
    // Handled between session runs (a run blocks this thread), so no native call is cut short.
    if (msg.type === "shutdown") process.exit(0);
    if (msg.type !== "generate") return;
    const cancel = new Int32Array(msg.cancel);
    const t0 = performance.now();
    models.sessionRunMs = 0;
    try {
      const { results, timings } = await pipeline.generate(msg.jobs, {
        isCancelled: (k) => Atomics.load(cancel, k) !== 0,
        onStep: (step, total) => post({ type: "step", id: msg.id, step, total }),
        onPreview: (job, index, step, image) => {
          const preview = { width: image.width, height: image.height, rgb: image.rgb };
          post({ type: "preview", id: msg.id, job, index, step, image: preview }, [
            preview.rgb.buffer as ArrayBuffer,
          ]);
        },
      });
      const images = results.map((r) =>
        r ? { width: r.image.width, height: r.image.height, rgb: r.image.rgb } : null,
      );
      post(
        {
          type: "done",
          id: msg.id,
          images,
          timings,
          sessionRunMs: models.sessionRunMs,
          computeMs: performance.now() - t0,
        },
        images.flatMap((i) => (i ? [i.rgb.buffer as ArrayBuffer] : [])),
      );
    } catch (err) {
      post({ type: "error", id: msg.id, message: (err as Error).message });
    }
  });
}

void main();
