import { afterAll, describe, expect, it } from "vitest";
import { loadModelFolder } from "../../../gpu-fn/model/model-folder";
import {
  CudaUnavailableError,
  cudaProviderInstalled,
  openSession,
  parseExecutionProvider,
} from "../../../gpu-fn/runtime/execution-provider";
import { InferenceEngine } from "../../../gpu-fn/runtime/inference-engine";
import { loadPromptEncoder } from "../../../gpu-fn/runtime/prompt-encoder";
import { tinyModelDir } from "./server-helpers";
import { removeTinyAModel, tinyAModelDir } from "./tiny-a-model";

const noCudaProvider = cudaProviderInstalled() === false;

describe("execution provider", () => {
  it("parses cpu|cuda|auto and rejects anything else", () => {
    expect(parseExecutionProvider(undefined)).toBe("auto");
    expect(parseExecutionProvider(" CUDA ")).toBe("cuda");
    expect(() => parseExecutionProvider("tpu")).toThrow(/cpu, cuda or auto/);
  });

  it.runIf(noCudaProvider)(
    "cuda without the CUDA provider is a clear error; auto falls back to the CPU with a log line",
    async () => {
      const folder = loadModelFolder(await tinyAModelDir());
      const graph = folder.graphPath("vae_decoder");
      await expect(openSession(graph, "cuda")).rejects.toBeInstanceOf(CudaUnavailableError);
      await expect(openSession(graph, "cuda")).rejects.toThrow(/EXECUTION_PROVIDER=cpu/);
      const lines: string[] = [];
      const opened = await openSession(graph, "auto", (l) => lines.push(l));
      expect(opened.provider).toBe("cpu");
      expect(lines.join("\n")).toMatch(
        /CUDA unavailable \(onnxruntime-node has no CUDA provider library installed\); using CPU/,
      );
      await opened.session.release();
    },
  );
});

describe("prompt encoder", () => {
  it("uses the model folder's tokenizer and real vocabulary as-is", async () => {
    const enc = await loadPromptEncoder(loadModelFolder(await tinyModelDir()));
    expect(enc.encode("hi").ids.slice(0, 3)).toEqual([151644, 872, 198]);
  });

  it("falls back to Qwen3's tokenizer and folds ids for a tiny-vocabulary test model, saying so", async () => {
    const lines: string[] = [];
    const enc = await loadPromptEncoder(loadModelFolder(await tinyAModelDir()), (l) => lines.push(l));
    expect(lines.join("\n")).toMatch(/no tokenizer/);
    expect(lines.join("\n")).toMatch(/folding token ids/);
    expect(enc.encode("hi").ids.slice(0, 3)).toEqual([151644 % 512, 872 % 512, 198]);
  });
});

describe("inference worker", () => {
  it("reports a model folder it cannot load instead of hanging", async () => {
    const engine = new InferenceEngine(
      { modelDir: "/nonexistent", executionProvider: "cpu", warmup: null },
      () => {},
    );
    await expect(engine.ready()).rejects.toThrow(/no model.json/);
    expect(engine.alive).toBe(false);
    await expect(engine.run([], new SharedArrayBuffer(4))).rejects.toThrow();
    await engine.close();
  });

  it("loads, warms up and runs a batch off the main thread", async () => {
    const engine = new InferenceEngine(
      { modelDir: await tinyModelDir(), executionProvider: "cpu", warmup: { width: 32, height: 32 } },
      () => {},
    );
    const info = await engine.ready();
    expect(info).toMatchObject({ provider: "cpu" });
    const steps: number[] = [];
    const previews: { job: number; index: number; step: number; width: number; bytes: number }[] = [];
    const done = await engine.run(
      [
        {
          width: 32,
          height: 32,
          steps: 3,
          guidanceScale: 0,
          promptIds: [151644, 872, 198],
          seed: 5,
          previews: 1,
        },
      ],
      new SharedArrayBuffer(4),
      {
        onStep: (s) => steps.push(s),
        onPreview: (job, index, step, image) =>
          previews.push({ job, index, step, width: image.width, bytes: image.rgb.length }),
      },
    );
    expect(steps).toEqual([1, 2, 3]);
    // One preview after step 2 of 3, decoded by the VAE from the predicted clean latent (32 px fits as is).
    expect(previews).toEqual([{ job: 0, index: 0, step: 2, width: 32, bytes: 32 * 32 * 3 }]);
    expect(done.images[0]?.rgb.length).toBe(32 * 32 * 3);
    expect(done.sessionRunMs).toBeGreaterThan(0);
    await engine.close();
  });
});

afterAll(removeTinyAModel);
