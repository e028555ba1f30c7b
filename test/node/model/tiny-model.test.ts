/**
 * `ensureTinyModel`: the generated model folder is deterministic (same revision from two independent runs),
 * reused when valid, and rebuilt when the folder is not a model of this generator.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ensureTinyModel, tinyModelName } from "../../../gpu-fn/cli/model-tiny";
import { loadModelFolder } from "../../../gpu-fn/model/model-folder";

const root = mkdtempSync(join(tmpdir(), "tiny-model-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("ensureTinyModel", () => {
  it("builds the same revision twice, then reuses the folder", async () => {
    const a = await ensureTinyModel(join(root, "a"));
    const b = await ensureTinyModel(join(root, "b"));
    expect(a.built).toBe(true);
    expect(b.built).toBe(true);
    expect(b.revision).toBe(a.revision);

    const folder = loadModelFolder(join(root, "a"));
    expect(folder.model.name).toBe(tinyModelName("tiny"));
    expect(folder.model.target).toBe("cpu");
    expect(folder.model.text_encoder).toMatchObject({ vocab_size: 151936, pad_token_id: 151643 });
    expect(folder.model.transformer.cap_feat_dim).toBe(folder.model.text_encoder.hidden_size);
    expect(folder.model.defaults).toMatchObject({ width: 256, height: 256, steps: 8, guidance_scale: 0 });
    expect(folder.tokenizerPaths).not.toBeNull();

    const again = await ensureTinyModel(join(root, "a"));
    expect(again).toMatchObject({ built: false, revision: a.revision });
  });

  it("rebuilds a folder whose model.json is not from this generator", async () => {
    const dir = join(root, "c");
    await ensureTinyModel(dir);
    const model = loadModelFolder(dir).model;
    writeFileSync(join(dir, "model.json"), JSON.stringify({ ...model, name: "something-else" }));
    const r = await ensureTinyModel(dir);
    expect(r.built).toBe(true);
    expect(loadModelFolder(dir).model.name).toBe(tinyModelName("tiny"));
  });
});
