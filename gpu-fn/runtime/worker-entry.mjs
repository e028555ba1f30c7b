// Plain-JS entry for the inference worker: loads the TypeScript worker through tsx's API, so the same
// file works under `tsx` (npm run gpu-fn), under vitest and from compiled tooling alike.
import { tsImport } from "tsx/esm/api";

await tsImport("./inference-worker.ts", import.meta.url);
