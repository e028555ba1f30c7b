import { spawnSync } from "node:child_process";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { runGolden } from "../../../gpu-fn/golden/run";
import { SafetensorsFile, writeSafetensors } from "../../../gpu-fn/model/safetensors";
import { useTempDirs } from "./temp-dirs";

const TINY = resolve("test/fixtures/golden/tiny-a");
type CaseEntry = { name: string; file: string; outputs: Record<string, unknown> };
const readList = (f: string) => JSON.parse(readFileSync(join(TINY, f), "utf8")).cases as CaseEntry[];
const cases = readList("cases.json");
/** The runner reads cases-img2img.json after cases.json (VAE encoder and image-to-image). */
const allCases = [...cases, ...readList("cases-img2img.json")];
const quiet = () => {};
const tmp = useTempDirs();

describe.each(["cpu", "cuda"] as const)("golden tiny-a, %s target (CPU provider)", (target) => {
  it("converts the checkpoint and passes every case within its tolerance", async () => {
    const out = tmp(`golden-${target}-`);
    const lines: string[] = [];
    const report = await runGolden({ setDir: TINY, outDir: out, target, log: (l) => lines.push(l) });
    const failed = report.cases.filter((c) => c.status !== "passed");
    expect(
      failed.map((c) => `${c.name}: ${c.error ?? JSON.stringify(c.tensors.filter((t) => !t.ok))}`),
    ).toEqual([]);
    expect(report.cases.map((c) => c.name)).toEqual(allCases.map((c) => c.name));
    expect(report.cases.map((c) => c.component)).toEqual(expect.arrayContaining(["vae_encoder", "img2img"]));
    expect(report.ok).toBe(true);
    // Every case's actual outputs are written under the case file's name, with the expected tensor names.
    for (const c of allCases) {
      const f = SafetensorsFile.open(join(out, c.file.split("/").pop()!));
      expect(f.keys()).toEqual(expect.arrayContaining(Object.keys(c.outputs)));
      f.close();
    }
    expect(lines.some((l) => /^PASS\s+vae_decoder_1 .*\n?/.test(l))).toBe(true);
    expect(lines.some((l) => /image: max abs \d\.\d\de-\d+, max rel/.test(l))).toBe(true);
  });
});

describe("golden runner on other sets", () => {
  /** A set with tiny-a's checkpoint and the given cases/files. */
  function makeSet(
    caseList: unknown[],
    files: Record<string, Parameters<typeof writeSafetensors>[1]>,
  ): string {
    const dir = tmp("set-");
    cpSync(join(TINY, "checkpoint"), join(dir, "checkpoint"), { recursive: true });
    cpSync(join(TINY, "cases"), join(dir, "cases"), { recursive: true });
    for (const [name, tensors] of Object.entries(files)) writeSafetensors(join(dir, "cases", name), tensors);
    writeFileSync(join(dir, "cases.json"), JSON.stringify({ set: "test", cases: caseList }));
    return dir;
  }
  const vaeCase = cases.find((c) => c.name === "vae_decoder_1")!;
  const ref = SafetensorsFile.open(join(TINY, vaeCase.file));
  const z = ref.readF32("z");
  const image = ref.readF32("image");
  ref.close();

  it("writes outputs and skips the comparison when the case file holds only inputs", async () => {
    const set = makeSet([{ ...vaeCase, file: "cases/only_z.safetensors" }], {
      "only_z.safetensors": [{ name: "z", dtype: "F32", shape: [1, 16, 4, 4], data: z }],
    });
    const out = join(set, "out");
    const report = await runGolden({ setDir: set, outDir: out, log: quiet });
    expect(report.cases[0]).toMatchObject({ status: "written", tensors: [] });
    expect(report.ok).toBe(true);
    const written = SafetensorsFile.open(join(out, "only_z.safetensors"));
    const got = written.readF32("image");
    written.close();
    let maxAbs = 0;
    for (let i = 0; i < image.length; i++) maxAbs = Math.max(maxAbs, Math.abs(got[i] - image[i]));
    expect(maxAbs).toBeLessThan(1e-4);
  });

  it("fails a case whose reference disagrees, and a case without a handler", async () => {
    const off = image.slice();
    off[100] += 0.01;
    const set = makeSet(
      [
        { ...vaeCase, name: "perturbed", file: "cases/perturbed.safetensors" },
        { ...vaeCase, name: "mystery", component: "mystery_component" },
      ],
      {
        "perturbed.safetensors": [
          { name: "image", dtype: "F32", shape: [1, 3, 32, 32], data: off },
          { name: "z", dtype: "F32", shape: [1, 16, 4, 4], data: z },
        ],
      },
    );
    const report = await runGolden({ setDir: set, outDir: join(set, "out"), log: quiet });
    expect(report.ok).toBe(false);
    const [perturbed, mystery] = report.cases;
    expect(perturbed.status).toBe("failed");
    expect(perturbed.tensors[0]).toMatchObject({ name: "image", ok: false, bad: 1 });
    expect(perturbed.tensors[0].maxAbs).toBeCloseTo(0.01, 4);
    expect(mystery).toMatchObject({ status: "failed", error: expect.stringMatching(/no handler/) });

    // The CLI prints the failures and exits 1 (it reuses the model converted above).
    const cli = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        "gpu-fn/cli/golden.ts",
        set,
        "--out",
        join(set, "out2"),
        "--model",
        report.modelDir,
      ],
      { encoding: "utf8" },
    );
    expect(cli.status).toBe(1);
    expect(cli.stdout).toMatch(
      /^FAIL +perturbed \(vae_decoder, .*\n +image: max abs 1\.00e-2, max rel .* <- 1 of 3072 values outside/m,
    );
    expect(cli.stdout).toMatch(/^FAIL +mystery \(mystery_component, .*\): no handler/m);
  });
});
