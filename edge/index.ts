/**
 * Worker entry: the Hono app plus the Durable Object classes wrangler.toml binds.
 * @module
 */
import { accountsExtension } from "./accounts/extension";
import { createApp } from "./app";

export { JobObject } from "./jobs/job-object";
export { GenerationObject } from "./objects/generation";

// Extensions (one line each) are mounted here.
const app = createApp({ extensions: [accountsExtension()] });

export default { fetch: app.fetch } satisfies ExportedHandler<Env>;
