/**
 * The pipeline's model calls (three, plus the VAE encoder for image-to-image) over ONNX Runtime sessions (graph I/O: gpu-fn/model/model-folder.ts and
 * transformer-io.ts). Counts the time spent inside session.run, for the overhead ratio in docs/benchmarks.md.
 * @module
 */
import * as ort from "onnxruntime-node";
import { imageToImageUnsupported, type ModelFolder, type ModelJson } from "../model/model-folder";
import { buildTransformerFeeds, splitTransformerOutput } from "../model/transformer-io";
import type { Posterior } from "../pipeline/image-to-image";
import type { PipelineConfig, PipelineModels, TransformerItem } from "../pipeline/text-to-image";
import { type ActiveProvider, type ExecutionProviderSetting, openSession } from "./execution-provider";

export interface ModelSessions {
  textEncoder: ort.InferenceSession;
  transformer: ort.InferenceSession;
  vaeDecoder: ort.InferenceSession;
  /** Absent for model folders converted before image-to-image (text-to-image still works). */
  vaeEncoder?: ort.InferenceSession;
}

/** Opens the graphs of a model folder, all on the same provider; says in one line when the encoder is missing. */
export async function openModelSessions(
  folder: ModelFolder,
  setting: ExecutionProviderSetting,
  log: (line: string) => void = () => {},
): Promise<{ sessions: ModelSessions; provider: ActiveProvider }> {
  const te = await openSession(folder.graphPath("text_encoder"), setting, log);
  // Once one graph has settled on a provider, the others follow it (no mixed CPU/CUDA pipelines).
  const rest: ExecutionProviderSetting = te.provider;
  const tr = await openSession(folder.graphPath("transformer"), rest, log);
  const vae = await openSession(folder.graphPath("vae_decoder"), rest, log);
  const missing = imageToImageUnsupported(folder.dir, folder.model);
  if (missing) log(missing);
  const enc = missing ? null : await openSession(folder.graphPath("vae_encoder"), rest, log);
  return {
    sessions: {
      textEncoder: te.session,
      transformer: tr.session,
      vaeDecoder: vae.session,
      ...(enc ? { vaeEncoder: enc.session } : {}),
    },
    provider: te.provider,
  };
}

export function pipelineConfigOf(model: ModelJson): PipelineConfig {
  return {
    scheduler: model.scheduler,
    latent: model.latent,
    capFeatDim: model.transformer.cap_feat_dim,
    vocabSize: model.text_encoder.vocab_size,
  };
}

export class OrtPipelineModels implements PipelineModels {
  readonly #sessions: ModelSessions;
  readonly #model: ModelJson;
  /** Milliseconds spent in session.run since the last reset. */
  sessionRunMs = 0;

  constructor(sessions: ModelSessions, model: ModelJson) {
    this.#sessions = sessions;
    this.#model = model;
  }

  async encodeText(ids: number[]): Promise<Float32Array> {
    const dims = [1, ids.length];
    const out = await this.#run(this.#sessions.textEncoder, {
      input_ids: new ort.Tensor("int64", BigInt64Array.from(ids, BigInt), dims),
      attention_mask: new ort.Tensor("int64", new BigInt64Array(ids.length).fill(1n), dims),
    });
    return Float32Array.from(out.data as Float32Array);
  }

  async transformer(
    items: TransformerItem[],
    latentHeight: number,
    latentWidth: number,
  ): Promise<Float32Array[]> {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, f] of Object.entries(
      buildTransformerFeeds(this.#model.transformer, items, latentHeight, latentWidth),
    )) {
      feeds[name] = new ort.Tensor(f.type as "float32", f.data as Float32Array, f.dims);
    }
    const out = await this.#run(this.#sessions.transformer, feeds);
    return splitTransformerOutput(
      out.data as Float32Array,
      [...out.dims],
      items.length,
      latentHeight,
      latentWidth,
    );
  }

  async decode(
    z: Float32Array,
    batch: number,
    latentHeight: number,
    latentWidth: number,
  ): Promise<Float32Array> {
    const dims = [batch, this.#model.latent.channels, latentHeight, latentWidth];
    const out = await this.#run(this.#sessions.vaeDecoder, { z: new ort.Tensor("float32", z, dims) });
    return out.data as Float32Array;
  }

  /** Present only when the folder has the encoder graph (PipelineModels.encodeImage is optional). */
  get encodeImage():
    | ((image: Float32Array, batch: number, h: number, w: number) => Promise<Posterior>)
    | undefined {
    const session = this.#sessions.vaeEncoder;
    if (!session) return undefined;
    return async (image, batch, height, width) => {
      const t0 = performance.now();
      const out = await session.run({ image: new ort.Tensor("float32", image, [batch, 3, height, width]) });
      this.sessionRunMs += performance.now() - t0;
      return { mean: out.latent_mean.data as Float32Array, std: out.latent_std.data as Float32Array };
    };
  }

  async #run(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>): Promise<ort.Tensor> {
    const t0 = performance.now();
    const result = await session.run(feeds);
    this.sessionRunMs += performance.now() - t0;
    return result[session.outputNames[0]];
  }
}
