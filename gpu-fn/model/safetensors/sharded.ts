/**
 * Opens a checkpoint component as one tensor namespace: a single `.safetensors` file, a
 * `*.safetensors.index.json` (HF sharding), or a folder holding either.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { SafetensorsFile } from "./file";
import { SafetensorsError } from "./header";

export interface StoredTensor {
  file: SafetensorsFile;
  name: string;
}

export class SafetensorsSet {
  constructor(
    /** What was opened (file, index or folder), for error messages. */
    readonly label: string,
    readonly files: SafetensorsFile[],
    readonly tensors: ReadonlyMap<string, StoredTensor>,
  ) {}

  close(): void {
    for (const f of this.files) f.close();
  }
}

/** Opens a file, an index JSON or a folder (the index wins over loose files when both exist). */
export function openSafetensors(path: string): SafetensorsSet {
  if (!existsSync(path)) throw new Error(`${path}: no such file or folder`);
  if (statSync(path).isDirectory()) {
    const names = readdirSync(path).sort();
    const indexes = names.filter((n) => n.endsWith(".safetensors.index.json"));
    if (indexes.length > 1) throw new Error(`${path}: several index files (${indexes.join(", ")}); pass one`);
    if (indexes.length === 1) return openIndex(join(path, indexes[0]));
    const files = withoutVariants(names.filter((n) => n.endsWith(".safetensors")));
    if (files.length === 0) throw new Error(`${path}: no .safetensors files`);
    return openFiles(
      path,
      files.map((n) => join(path, n)),
    );
  }
  if (path.endsWith(".json")) return openIndex(path);
  return openFiles(path, [path]);
}

function openFiles(label: string, paths: string[]): SafetensorsSet {
  const files: SafetensorsFile[] = [];
  const tensors = new Map<string, StoredTensor>();
  try {
    for (const p of paths) {
      const file = SafetensorsFile.open(p);
      files.push(file);
      for (const name of file.keys()) {
        const prev = tensors.get(name);
        if (prev) throw new SafetensorsError(p, `also stored in ${prev.file.path}`, name);
        tensors.set(name, { file, name });
      }
    }
  } catch (err) {
    for (const f of files) f.close();
    throw err;
  }
  return new SafetensorsSet(label, files, tensors);
}

function openIndex(indexPath: string): SafetensorsSet {
  let weightMap: Record<string, unknown>;
  try {
    const parsed = JSON.parse(readFileSync(indexPath, "utf8")) as { weight_map?: unknown };
    if (typeof parsed.weight_map !== "object" || parsed.weight_map === null) throw new Error("no weight_map");
    weightMap = parsed.weight_map as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${indexPath}: bad safetensors index: ${(err as Error).message}`);
  }
  const dir = dirname(indexPath);
  const byFile = new Map<string, SafetensorsFile>();
  const tensors = new Map<string, StoredTensor>();
  try {
    for (const [name, shard] of Object.entries(weightMap)) {
      if (typeof shard !== "string" || shard !== basename(shard)) {
        throw new Error(`${indexPath}: tensor "${name}": bad shard file name ${JSON.stringify(shard)}`);
      }
      let file = byFile.get(shard);
      if (!file) {
        const p = join(dir, shard);
        if (!existsSync(p)) throw new Error(`${indexPath}: shard ${shard} (tensor "${name}") is missing`);
        file = SafetensorsFile.open(p);
        byFile.set(shard, file);
      }
      if (!file.entries.has(name)) {
        throw new SafetensorsError(
          file.path,
          `listed in ${basename(indexPath)} but not stored in this shard`,
          name,
        );
      }
      tensors.set(name, { file, name });
    }
  } catch (err) {
    for (const f of byFile.values()) f.close();
    throw err;
  }
  return new SafetensorsSet(indexPath, [...byFile.values()], tensors);
}

/**
 * diffusers "variants" (`diffusion_pytorch_model.fp16.safetensors` next to `diffusion_pytorch_model.safetensors`)
 * hold the same tensors in another dtype: keep the plain file when both exist.
 */
function withoutVariants(files: string[]): string[] {
  const plain = new Set(files);
  return files.filter((f) => {
    const m = /^(.*)\.[A-Za-z0-9_]+\.safetensors$/.exec(f);
    return !(m && plain.has(`${m[1]}.safetensors`));
  });
}
