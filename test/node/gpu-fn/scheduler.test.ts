import { describe, expect, it } from "vitest";
import { buildOriginalNov2025Schedule, buildSchedule } from "../../../gpu-fn/pipeline/scheduler";
import { readSafetensors } from "./golden-files";

const golden = readSafetensors("cases/scheduler.safetensors");
const TURBO = { num_train_timesteps: 1000, shift: 3, use_dynamic_shifting: false };

function bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(Float32Array.from(a).buffer));
}

describe("buildSchedule (bit-exact vs current diffusers ZImagePipeline)", () => {
  for (const n of [1, 2, 4, 8, 9, 20, 50]) {
    it(`N=${n}: sigmas, timesteps and model t`, () => {
      const s = buildSchedule(n, TURBO);
      expect(bits(s.sigmas)).toEqual(bits(golden[`sigmas_${n}`].data as Float32Array));
      expect(bits(s.timesteps)).toEqual(bits(golden[`timesteps_${n}`].data as Float32Array));
      expect(bits(s.modelT)).toEqual(bits(golden[`model_t_${n}`].data as Float32Array));
    });
  }

  it("gives the Turbo table for 8 steps and ends every schedule at 0", () => {
    const s = buildSchedule(8, TURBO);
    expect(Array.from(s.sigmas).map((x) => Number(x.toFixed(7)))).toEqual([
      1, 0.9545454, 0.9, 0.8333333, 0.75, 0.6428571, 0.5, 0.3, 0,
    ]);
    for (let n = 1; n <= 50; n++) {
      const { sigmas } = buildSchedule(n, TURBO);
      expect(sigmas[n]).toBe(0);
      for (let i = 0; i < n; i++) expect(sigmas[i]).toBeGreaterThan(sigmas[i + 1]);
    }
  });

  it("rejects dynamic shifting and bad step counts", () => {
    expect(() => buildSchedule(8, { ...TURBO, use_dynamic_shifting: true })).toThrow(/dynamic/);
    expect(() => buildSchedule(0, TURBO)).toThrow(RangeError);
  });
});

describe("buildOriginalNov2025Schedule", () => {
  it("N=9 is the Turbo schedule plus a zero-length step", () => {
    const s = buildOriginalNov2025Schedule(9, TURBO);
    expect(bits(s.sigmas)).toEqual(bits(golden.orig_nov2025_sigmas_9.data as Float32Array));
    expect(bits(s.timesteps)).toEqual(bits(golden.orig_nov2025_timesteps_9.data as Float32Array));
  });
});
