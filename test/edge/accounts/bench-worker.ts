/**
 * Worker for the accounts-overhead benchmark (test/bench/accounts-overhead.ts): the same edge app twice in
 * one isolate, `/on/...` with the accounts extension (auth, rate limit, quota, ledger) and `/off/...` without,
 * so both variants share bindings, local state and warm-up.
 */
import { accountsExtension } from "../../../edge/accounts/extension";
import { createApp } from "../../../edge/app";

export { GenerationObject } from "../../../edge/objects/generation";

const variants = {
  on: createApp({ extensions: [accountsExtension()] }),
  off: createApp(),
};

export default {
  fetch(request, env, ctx) {
    const url = new URL(request.url);
    const [, variant, ...rest] = url.pathname.split("/");
    const app = variants[variant as keyof typeof variants];
    if (!app) return new Response("use /on/... or /off/...", { status: 404 });
    url.pathname = `/${rest.join("/")}`;
    return app.fetch(new Request(url, request), env, ctx);
  },
} satisfies ExportedHandler<Env>;
