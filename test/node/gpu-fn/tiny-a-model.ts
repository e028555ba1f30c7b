/** Converts the golden tiny-a checkpoint into a model folder once per test process (model builder's converter). */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { convertCheckpoint } from "../../../gpu-fn/model/convert";
import { GOLDEN_DIR } from "./golden-files";

let folder: Promise<string> | null = null;
let root: string | null = null;

/** Removes the converted folder (call from afterAll; forked test workers are killed without "exit" events). */
export function removeTinyAModel(): void {
  if (root) rmSync(root, { recursive: true, force: true });
  root = null;
  folder = null;
}

export function tinyAModelDir(): Promise<string> {
  folder ??= (async () => {
    root = mkdtempSync(path.join(tmpdir(), "zi-tiny-a-"));
    const out = path.join(root, "model");
    await convertCheckpoint({ from: path.join(GOLDEN_DIR, "checkpoint"), out, target: "cpu" });
    if (!existsSync(path.join(out, "model.json"))) throw new Error("conversion wrote no model.json");
    return out;
  })();
  return folder;
}
