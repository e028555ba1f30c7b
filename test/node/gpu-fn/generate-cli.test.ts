import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate, parseGenerateArgs } from "../../../gpu-fn/cli/generate";
import { tinyModelDir } from "./server-helpers";

let model: string;
const dir = mkdtempSync(path.join(tmpdir(), "zi-gen-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(async () => {
  model = await tinyModelDir();
});

describe("npm run generate", () => {
  it("parses flags, infers the format from --out and rejects bad input", () => {
    const a = parseGenerateArgs([
      "--model",
      "m",
      "--prompt",
      "p",
      "--out",
      "x.jpg",
      "--steps",
      "4",
      "--guidance",
      "1.5",
    ]);
    expect(a).toMatchObject({ format: "jpeg", steps: 4, guidance: 1.5, seed: 0, provider: "auto" });
    expect(() => parseGenerateArgs(["--model", "m", "--out", "x.png"])).toThrow(/usage/);
    expect(() =>
      parseGenerateArgs(["--model", "m", "--prompt", "p", "--out", "x.png", "--steps", "two"]),
    ).toThrow(/--steps/);
  });

  it("writes the image with its parameters and reports per-step timings", async () => {
    const out = path.join(dir, "a.png");
    const steps: number[] = [];
    const s = await generate(
      parseGenerateArgs([
        "--model",
        model,
        "--prompt",
        "a fox",
        "--steps",
        "3",
        "--width",
        "64",
        "--height",
        "32",
        "--seed",
        "9",
        "--out",
        out,
        "--provider",
        "cpu",
      ]),
      (step) => steps.push(step),
    );
    expect(steps).toEqual([1, 2, 3]);
    expect(s.ms.steps).toHaveLength(3);
    expect(s.ms.sessionRun).toBeGreaterThan(0);
    const meta = await sharp(out).metadata();
    expect([meta.width, meta.height]).toEqual([64, 32]);
    expect(meta.exif?.toString("latin1")).toContain('"seed":9');
  });

  it("runs as a command and prints the timing summary", async () => {
    const out = path.join(dir, "b.webp");
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        "--import",
        "tsx",
        "gpu-fn/cli/generate.ts",
        "--model",
        model,
        "--prompt",
        "x",
        "--steps",
        "2",
        "--width",
        "32",
        "--height",
        "32",
        "--provider",
        "cpu",
        "--out",
        out,
      ],
      { timeout: 120_000 },
    );
    expect(stdout).toMatch(/wrote .*b\.webp/);
    expect(stdout).toMatch(/step 2 +\d/);
    expect(stdout).toMatch(/overhead \d+\.\d+x/);
    expect((await sharp(out).metadata()).format).toBe("webp");
  });
});
