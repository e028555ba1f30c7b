/**
 * The `main` Worker of the Workers-runtime tests: the edge app WITHOUT the accounts extension, plus the Durable
 * Object class the bindings need. The edge-core tests (test/edge/*.test.ts) drive it through SELF without API
 * keys. The production composition (edge/index.ts: the same app with `accountsExtension()`) is exercised by the
 * accounts tests, which build it with createApp and also call edge/index.ts itself (entry.test.ts).
 */
import { createApp } from "../../../edge/app";

export { JobObject } from "../../../edge/jobs/job-object";
export { GenerationObject } from "../../../edge/objects/generation";

const app = createApp();

export default { fetch: app.fetch } satisfies ExportedHandler<Env>;
