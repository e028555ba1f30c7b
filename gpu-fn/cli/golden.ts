/**
 * npm run golden -- <golden-set-folder> --out <folder> [--target cpu|cuda] [--provider cpu|cuda] [--model <dir>]
 *                   [--case <name> ...]
 *
 * Converts the set's checkpoint, runs every case, writes actual outputs, prints max abs / max rel error per
 * tensor and exits 1 if any case misses its tolerance (or has no handler).
 */
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { type GoldenRunOptions, runGolden } from "../golden/run";

const USAGE =
  "usage: npm run golden -- <golden-set-folder> --out <folder> [--target cpu|cuda] [--provider cpu|cuda] [--model <converted-dir>] [--case <name>]...";

export function parseGoldenArgs(argv: string[]): GoldenRunOptions {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: "string" },
      target: { type: "string", default: "cpu" },
      provider: { type: "string", default: "cpu" },
      model: { type: "string" },
      case: { type: "string", multiple: true },
    },
  });
  if (positionals.length !== 1 || !values.out) throw new Error(USAGE);
  const target = values.target;
  const provider = values.provider;
  if (target !== "cpu" && target !== "cuda") throw new Error(`--target must be cpu or cuda\n${USAGE}`);
  if (provider !== "cpu" && provider !== "cuda") throw new Error(`--provider must be cpu or cuda\n${USAGE}`);
  return {
    setDir: positionals[0],
    outDir: values.out,
    target,
    provider,
    modelDir: values.model,
    only: values.case,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    const report = await runGolden(parseGoldenArgs(process.argv.slice(2)));
    process.exit(report.ok ? 0 : 1);
  } catch (err) {
    console.error(`golden failed: ${(err as Error).message}`);
    process.exit(1);
  }
}
