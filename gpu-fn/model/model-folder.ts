/**
 * The converted model folder's `model.json` (read by the GPU function, written by `npm run convert`):
 * schema, loader and writer. Graph I/O: text_encoder `input_ids`/`attention_mask` int64 [B,L] ->
 * `hidden_states` f32 [B,L,hidden]; vae_decoder `z` f32 [B,16,h,w] -> `image` f32 [B,3,8h,8w];
 * vae_encoder `image` f32 [B,3,H,W] -> `latent_mean`/`latent_logvar`/`latent_std` f32 [B,16,H/8,W/8];
 * transformer I/O is defined in transformer-io.ts. `vae_encoder` is optional: folders converted before
 * image-to-image existed lack it and still serve text-to-image (`imageToImageUnsupported` says why not).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

export const MODEL_FORMAT = "z-image-onnx/1";
export const MODEL_JSON = "model.json";

const graphFiles = z.object({ file: z.string().min(1), data: z.string().min(1) });

export const modelJsonSchema = z.object({
  format: z.literal(MODEL_FORMAT),
  name: z.string().min(1),
  /** "zit-" + first 16 hex of a sha256 over the graphs, their data, tokenizer files and the configs below. */
  revision: z.string().regex(/^zit-[0-9a-f]{16}$/),
  target: z.enum(["cpu", "cuda"]),
  graphs: z.object({
    text_encoder: graphFiles,
    transformer: graphFiles,
    vae_decoder: graphFiles,
    vae_encoder: graphFiles.optional(),
  }),
  tokenizer: z.object({ file: z.string().min(1), config: z.string().min(1) }).nullable(),
  scheduler: z.object({
    num_train_timesteps: z.number().int().positive(),
    shift: z.number().positive(),
    use_dynamic_shifting: z.boolean(),
  }),
  latent: z.object({
    channels: z.number().int().positive(),
    vae_scale_factor: z.number().int().positive(),
    scaling_factor: z.number().positive(),
    shift_factor: z.number(),
  }),
  transformer: z.object({
    dim: z.number().int().positive(),
    n_heads: z.number().int().positive(),
    cap_feat_dim: z.number().int().positive(),
    patch_size: z.number().int().positive(),
    f_patch_size: z.number().int().positive(),
    axes_dims: z.array(z.number().int().positive()).length(3),
    axes_lens: z.array(z.number().int().positive()).length(3),
    rope_theta: z.number().positive(),
    t_scale: z.number().positive(),
    in_channels: z.number().int().positive(),
  }),
  text_encoder: z.object({
    hidden_size: z.number().int().positive(),
    num_layers_used: z.number().int().positive(),
    vocab_size: z.number().int().positive(),
    max_length: z.number().int().positive(),
    pad_token_id: z.number().int().nonnegative(),
  }),
  defaults: z.object({
    steps: z.number().int().positive(),
    guidance_scale: z.number().nonnegative(),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
  }),
});

export type ModelJson = z.infer<typeof modelJsonSchema>;
export type GraphName = keyof ModelJson["graphs"];

/**
 * Why a model folder cannot run image-to-image, as one line for logs and errors; null when it can.
 * Folders converted before the VAE encoder graph existed have no `graphs.vae_encoder`.
 */
export function imageToImageUnsupported(dir: string, model: ModelJson): string | null {
  if (model.graphs.vae_encoder) return null;
  return `${dir} was converted before image-to-image support (no vae_encoder graph): rebuild it with \`npm run convert\` (or \`npm run model:tiny\`) to enable /v1/images/edits; text-to-image keeps working`;
}

/** A loaded model folder: the validated model.json plus absolute paths of its files. */
export interface ModelFolder {
  dir: string;
  model: ModelJson;
  /** Absolute path of a graph; throws for an optional graph the folder lacks (see imageToImageUnsupported). */
  graphPath(name: GraphName): string;
  tokenizerPaths: { file: string; config: string } | null;
}

/** Reads and validates `<dir>/model.json`; checks that every file it names exists. */
export function loadModelFolder(dir: string): ModelFolder {
  const path = join(dir, MODEL_JSON);
  if (!existsSync(path))
    throw new Error(`${dir}: no ${MODEL_JSON} (convert a checkpoint with \`npm run convert\`)`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new Error(`${path}: not valid JSON: ${(err as Error).message}`);
  }
  const parsed = modelJsonSchema.safeParse(json);
  if (!parsed.success) throw new Error(`${path}: invalid model.json: ${z.prettifyError(parsed.error)}`);
  const model = parsed.data;
  const files = [
    ...Object.values(model.graphs).flatMap((g) => (g ? [g.file, g.data] : [])),
    ...(model.tokenizer ? [model.tokenizer.file, model.tokenizer.config] : []),
  ];
  for (const f of files) {
    if (!existsSync(join(dir, f))) throw new Error(`${path}: names ${f}, which is missing from ${dir}`);
  }
  return {
    dir,
    model,
    graphPath: (name) => {
      const g = model.graphs[name];
      if (!g)
        throw new Error(imageToImageUnsupported(dir, model) ?? `${dir}: model.json has no ${name} graph`);
      return join(dir, g.file);
    },
    tokenizerPaths: model.tokenizer
      ? { file: join(dir, model.tokenizer.file), config: join(dir, model.tokenizer.config) }
      : null,
  };
}

/** Validates and writes `<dir>/model.json`. */
export function writeModelJson(dir: string, model: ModelJson): void {
  const checked = modelJsonSchema.parse(model);
  writeFileSync(join(dir, MODEL_JSON), `${JSON.stringify(checked, null, 2)}\n`);
}
