/**
 * Creates a local dev account and API key through the edge's admin API and prints the key once.
 *
 *   npx tsx infra/dev/create-dev-key.ts [--plan pro] [--mode live|test] [--edge http://127.0.0.1:8787]
 *
 * The edge defaults to EDGE_URL, else http://127.0.0.1:$EDGE_PORT (8787), as `npm start` uses them.
 *
 * Needs a running edge (`npm start` or `npm run dev:edge` with migrations applied:
 * `npx wrangler d1 migrations apply zimage --local`). ADMIN_TOKEN comes from the environment or `.dev.vars`;
 * it is never printed.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { AdminClient } from "./admin-client";
import { readDevVars } from "./dev-vars";

const { values } = parseArgs({
  options: {
    plan: { type: "string", default: "pro" },
    mode: { type: "string", default: "live" },
    name: { type: "string", default: "local dev" },
    edge: {
      type: "string",
      default: process.env.EDGE_URL ?? `http://127.0.0.1:${process.env.EDGE_PORT || "8787"}`,
    },
  },
});

const adminToken = process.env.ADMIN_TOKEN || readDevVars(".dev.vars").ADMIN_TOKEN;
if (!adminToken) {
  console.error("ADMIN_TOKEN is not set (environment or .dev.vars); start the stack once with `npm start`.");
  process.exit(2);
}
if (values.mode !== "live" && values.mode !== "test") {
  console.error("--mode must be live or test");
  process.exit(2);
}

const admin = new AdminClient(values.edge, adminToken);
let account: Awaited<ReturnType<AdminClient["createAccount"]>>;
let key: Awaited<ReturnType<AdminClient["issueKey"]>>;
try {
  account = await admin.createAccount(values.name, values.plan);
  key = await admin.issueKey(account.id, "dev", values.mode);
} catch (error) {
  // One line, no stack: the usual cause is that no edge runs at that address.
  const unreachable = error instanceof TypeError && error.message === "fetch failed";
  console.error(
    unreachable
      ? `No edge answers at ${values.edge}: start the stack with \`npm start\` (or pass --edge / EDGE_PORT).`
      : `Could not create the key at ${values.edge}: ${(error as Error).message}`,
  );
  process.exit(1);
}
console.log(`account ${account.id} (plan ${account.plan_id}), key ${key.id} (${key.prefix}…)`);
console.log(`API key (shown once): ${key.secret}`);
console.log(
  `curl -s ${values.edge}/v1/images/generations -H "Authorization: Bearer ${key.secret}" ` +
    `-H "Content-Type: application/json" -d '{"prompt":"a lighthouse at dawn","size":"256x256"}'`,
);
