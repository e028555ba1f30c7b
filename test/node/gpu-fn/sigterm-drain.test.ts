import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inferBody, SECRET, signedInfer, tinyModelDir } from "./server-helpers";

let url = "";
let child: ChildProcess;
let output = "";

beforeAll(async () => {
  child = spawn(process.execPath, ["--import", "tsx", "gpu-fn/server/main.ts"], {
    env: {
      ...process.env,
      MODEL_DIR: await tinyModelDir(),
      PORT: "0",
      HOST: "127.0.0.1",
      EXECUTION_PROVIDER: "cpu",
      GPU_HMAC_SECRET: SECRET,
      MAX_BATCH: "1",
      WARMUP_SIZE: "16",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.on("data", (d) => {
    output += d;
  });
  child.stderr?.on("data", (d) => {
    output += d;
  });
  // `npm run gpu-fn` logs "state: ready" once the models are warm.
  while (!output.includes("state: ready")) {
    if (child.exitCode !== null) throw new Error(`server exited early:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  url = `http://127.0.0.1:${/listening on [^\s]*:(\d+) /.exec(output)?.[1]}`;
});

afterAll(() => {
  if (child.exitCode === null) child.kill("SIGKILL");
});

describe("SIGTERM (npm run gpu-fn in a child process)", () => {
  it("stops accepting, finishes in-flight work, then exits 0", async () => {
    // A long request (50 steps at 256x256) so it is still running when the signal arrives.
    const inFlight = signedInfer(url, inferBody({ steps: 50, width: 256, height: 256 }));
    while (!/^zi_batch_in_flight 1$/m.test(await (await fetch(`${url}/metrics`)).text())) {
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill("SIGTERM");
    while (!output.includes("state: draining")) await new Promise((r) => setTimeout(r, 10));

    const refused = await signedInfer(url, inferBody()).catch((e: Error) => e);
    if (refused instanceof Response) {
      expect(refused.status).toBe(503);
      expect(refused.headers.get("retry-after")).toBeTruthy();
      const ready = await fetch(`${url}/readyz`).catch((e: Error) => e);
      if (ready instanceof Response) expect(ready.status).toBe(503);
    } // else: the port is already closed, which also refuses the work

    const finished = await inFlight;
    expect(finished.status).toBe(200);
    expect((await finished.arrayBuffer()).byteLength).toBeGreaterThan(0);
    const [code] = await once(child, "exit");
    expect(code).toBe(0);
    expect(output).toContain("stopped");
  });
});
