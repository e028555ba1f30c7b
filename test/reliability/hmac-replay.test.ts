/**
 * A signed edge -> GPU request cannot be replayed on another instance or after a restart: two real GPU function
 * processes (tiny model, CPU), each with its own GPU_AUDIENCE (the URL the edge calls it at, as the local stack
 * sets it). The capture is a request signed the way the edge signs it (edge/gpu/client.ts: audience = backend).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launch, type ManagedProcess } from "../../infra/dev/processes";
import { waitForHttp } from "../../infra/dev/readiness";
import { REPO_ROOT } from "../../infra/dev/start-stack";
import { freePort } from "../../infra/upstash-bridge/redis-server";
import { signRequest } from "../../shared/hmac";
import { HMAC_HEADERS, INFER_PATH } from "../../shared/protocol";
import { tinyModelDir } from "../node/gpu-fn/server-helpers";

const SECRET = "replay-test-secret-0123456789";

interface Instance {
  url: string;
  port: number;
  process?: ManagedProcess;
}

async function start(instance: Instance, modelDir: string): Promise<void> {
  instance.process = launch("gpu-fn", process.execPath, ["--import", "tsx", "gpu-fn/server/main.ts"], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      PORT: String(instance.port),
      HOST: "127.0.0.1",
      MODEL_DIR: modelDir,
      EXECUTION_PROVIDER: "cpu",
      GPU_HMAC_SECRET: SECRET,
      GPU_AUDIENCE: instance.url,
      WARMUP_SIZE: "0",
    },
  });
  await waitForHttp(`${instance.url}/readyz`, {
    what: "GPU function",
    timeoutMs: 120_000,
    process: instance.process,
  });
}

const instances: Instance[] = [];
let modelDir: string;

beforeAll(async () => {
  modelDir = await tinyModelDir();
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    instances.push({ port, url: `http://127.0.0.1:${port}` });
  }
  await Promise.all(instances.map((instance) => start(instance, modelDir)));
});

afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.process?.stop()));
});

const body = JSON.stringify({
  request_id: "replay-1",
  prompt: "a captured request",
  width: 32,
  height: 32,
  steps: 1,
  guidance_scale: 0,
  seed: 1,
  output_format: "png",
});

async function send(url: string, headers: Record<string, string>) {
  const response = await fetch(`${url}${INFER_PATH}`, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body,
  });
  const text = response.headers.get("content-type")?.startsWith("application/json")
    ? await response.text()
    : "";
  if (!text) await response.arrayBuffer();
  return {
    status: response.status,
    code: text ? (JSON.parse(text) as { error: { code: string } }).error.code : null,
  };
}

describe("HMAC replay across GPU function instances", () => {
  it("refuses a captured request on the same instance, on another instance and after a restart", async () => {
    const [a, b] = instances;
    const captured = await signRequest({
      secret: SECRET,
      method: "POST",
      path: INFER_PATH,
      body,
      audience: a.url,
    });
    expect(await send(a.url, captured)).toEqual({ status: 200, code: null });
    // Replayed on A: the nonce is known.
    expect(await send(a.url, captured)).toEqual({ status: 401, code: "replayed_nonce" });
    // Replayed on B: signed for A.
    expect(await send(b.url, captured)).toEqual({ status: 401, code: "wrong_audience" });
    // ... and relabelled for B: the signature covers the audience.
    expect(await send(b.url, { ...captured, [HMAC_HEADERS.audience]: b.url })).toEqual({
      status: 401,
      code: "bad_signature",
    });
    // ... or with the audience dropped: B knows its audience and requires one.
    const { [HMAC_HEADERS.audience]: _dropped, ...bare } = captured;
    expect(await send(b.url, bare)).toEqual({ status: 401, code: "wrong_audience" });

    // A restarts (new process, empty nonce memory): the capture is older than the process.
    await a.process?.stop();
    await start(a, modelDir);
    expect(await send(a.url, captured)).toEqual({ status: 401, code: "signed_before_start" });
    // A request signed now, for A, passes on A.
    const fresh = await signRequest({
      secret: SECRET,
      method: "POST",
      path: INFER_PATH,
      body,
      audience: a.url,
    });
    expect(await send(a.url, fresh)).toEqual({ status: 200, code: null });
  });
});
