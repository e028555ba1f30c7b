// Vitest setup file for the Workers-runtime tests: brings the test D1 database to the schema of edge/migrations.
import { applyD1Migrations, env } from "cloudflare:test";

await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
