/**
 * Worker entry: the Hono app plus the Durable Object classes wrangler.toml binds.
 * @module
 */
import { createApp } from "./app";

export { GenerationObject } from "./objects/generation";

// Extensions (one line each) are mounted here, e.g. `extensions: [accounts]`.
const app = createApp({ extensions: [] });

export default { fetch: app.fetch } satisfies ExportedHandler<Env>;
