import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCase } from "../../../gpu-fn/golden/pipeline";
import type { GoldenCase, GoldenTensor } from "../../../gpu-fn/golden/types";
import { readCases, readSafetensors } from "./golden-files";
import { removeTinyAModel, tinyAModelDir } from "./tiny-a-model";

let modelDir: string;
beforeAll(async () => {
  modelDir = await tinyAModelDir();
});

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

describe("golden full-pipeline cases through the server's pipeline code (ORT CPU)", () => {
  for (const name of ["pipeline_1_turbo", "pipeline_2_cfg"]) {
    it(`${name}: latents, image_float and uint8 within the case's tolerances`, async () => {
      const c = readCases().cases.find((x) => x.name === name) as unknown as GoldenCase;
      const file = readSafetensors(c.file);
      const inputs: Record<string, GoldenTensor> = {};
      for (const k of Object.keys(c.inputs)) {
        const t = file[k];
        inputs[k] = { dtype: t.dtype as GoldenTensor["dtype"], dims: t.shape, data: t.data };
      }
      const out = await runCase({ case: c, inputs, modelDir, provider: "cpu" });
      const tol = c.tolerance as { latents_final_atol: number; image_float_atol: number };

      expect(out.latents_final.dims).toEqual(file.latents_final.shape);
      const latErr = maxAbsDiff(
        out.latents_final.data as Float32Array,
        file.latents_final.data as Float32Array,
      );
      expect(latErr).toBeLessThanOrEqual(tol.latents_final_atol);

      expect(out.image_float.dims).toEqual(file.image_float.shape);
      const imgErr = maxAbsDiff(out.image_float.data as Float32Array, file.image_float.data as Float32Array);
      expect(imgErr).toBeLessThanOrEqual(tol.image_float_atol);

      const got = out.image_uint8.data as Uint8Array;
      const want = file.image_uint8.data as Uint8Array;
      expect(out.image_uint8.dtype).toBe("U8");
      expect(maxAbsDiff(got, want)).toBeLessThanOrEqual(1);
      let differing = 0;
      for (let i = 0; i < got.length; i++) if (got[i] !== want[i]) differing++;
      expect(differing / got.length).toBeLessThanOrEqual(0.005);
    });
  }
});

afterAll(removeTinyAModel);
