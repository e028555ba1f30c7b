import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCase as runNoise } from "../../../gpu-fn/golden/noise";
import { runCase as runScheduler } from "../../../gpu-fn/golden/scheduler";
import type { GoldenCase } from "../../../gpu-fn/golden/types";
import { GOLDEN_DIR, readCases, readSafetensors } from "./golden-files";

function caseNamed(name: string): GoldenCase {
  return readCases().cases.find((c) => c.name === name) as unknown as GoldenCase;
}

/** A model folder holding just the golden checkpoint's scheduler config (all the scheduler handler reads). */
function schedulerOnlyModelDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "zi-sched-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = JSON.parse(
    readFileSync(path.join(GOLDEN_DIR, "checkpoint/scheduler/scheduler_config.json"), "utf8"),
  );
  writeFileSync(path.join(dir, "model.json"), JSON.stringify({ scheduler: cfg }));
  return dir;
}

describe("golden handlers: noise and scheduler", () => {
  for (const [name, run, modelDir] of [
    ["noise", runNoise, "unused"],
    ["scheduler", runScheduler, schedulerOnlyModelDir()],
  ] as const) {
    it(`${name}: every output bit-exact`, async () => {
      const c = caseNamed(name);
      const want = readSafetensors(c.file);
      const got = await run({ case: c, inputs: {}, modelDir, provider: "cpu" });
      expect(Object.keys(got).sort()).toEqual(Object.keys(c.outputs).sort());
      for (const [k, t] of Object.entries(got)) {
        expect(t.dims, k).toEqual(want[k].shape);
        expect(new Uint32Array(Float32Array.from(t.data as Float32Array).buffer), k).toEqual(
          new Uint32Array(Float32Array.from(want[k].data as Float32Array).buffer),
        );
      }
    });
  }
});
