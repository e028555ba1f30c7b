/**
 * Benchmark entry: the edge app without extensions (no API keys, rate limits or metering), so the cache-hit
 * benchmark measures the foundation's own path. The production entry is edge/index.ts.
 */
import { createApp } from "../../../edge/app";

export { GenerationObject } from "../../../edge/objects/generation";

const app = createApp();

export default { fetch: app.fetch } satisfies ExportedHandler<Env>;
