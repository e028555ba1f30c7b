import type { D1Migration } from "cloudflare:test";

declare global {
  namespace Cloudflare {
    interface Env {
      /** Read from edge/migrations by vitest.edge.config.ts, applied by apply-migrations.ts. */
      TEST_MIGRATIONS: D1Migration[];
    }
  }
}
