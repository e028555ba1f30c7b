/**
 * ONNX Runtime session creation with the configured execution provider: `cpu`, `cuda` (a hard error with a clear
 * message when CUDA is unavailable) or `auto` (CUDA when it loads, else CPU, said in one log line).
 * @module
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import * as ort from "onnxruntime-node";

export type ExecutionProviderSetting = "cpu" | "cuda" | "auto";
export type ActiveProvider = "cpu" | "cuda";

export function parseExecutionProvider(value: string | undefined): ExecutionProviderSetting {
  const v = (value ?? "auto").trim().toLowerCase();
  if (v === "cpu" || v === "cuda" || v === "auto") return v;
  throw new Error(`EXECUTION_PROVIDER must be cpu, cuda or auto, got "${value}"`);
}

export class CudaUnavailableError extends Error {
  constructor(cause: unknown) {
    super(
      "EXECUTION_PROVIDER=cuda, but ONNX Runtime's CUDA provider could not be loaded " +
        `(${(cause as Error)?.message ?? cause}). Install onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12 on a ` +
        "host with the CUDA 12 + cuDNN 9 runtime, or set EXECUTION_PROVIDER=cpu.",
      { cause },
    );
    this.name = "CudaUnavailableError";
  }
}

function sessionOptions(provider: ActiveProvider): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: provider === "cuda" ? [{ name: "cuda", deviceId: 0 }] : ["cpu"],
    graphOptimizationLevel: "all",
  };
}

/**
 * Whether onnxruntime-node's CUDA provider library is installed next to its binding (a CPU install has none);
 * null when the package layout is not the expected one, and then the caller simply tries CUDA.
 * Checked first so a CPU machine gets one clear line instead of ONNX Runtime's native load error.
 */
export function cudaProviderInstalled(): boolean | null {
  const require = createRequire(import.meta.url);
  const binDir = path.join(
    path.dirname(require.resolve("onnxruntime-node")),
    "../bin/napi-v6",
    process.platform,
    process.arch,
  );
  if (!existsSync(binDir)) return null;
  return existsSync(path.join(binDir, "libonnxruntime_providers_cuda.so"));
}

export interface OpenedSession {
  session: ort.InferenceSession;
  provider: ActiveProvider;
}

/**
 * Opens one graph by path (external data next to it). With `auto`, a CUDA failure falls back to the CPU and
 * `log` says why; with `cuda`, it throws CudaUnavailableError.
 */
export async function openSession(
  graphPath: string,
  setting: ExecutionProviderSetting,
  log: (line: string) => void = () => {},
): Promise<OpenedSession> {
  const cpu = async (): Promise<OpenedSession> => ({
    session: await ort.InferenceSession.create(graphPath, sessionOptions("cpu")),
    provider: "cpu",
  });
  if (setting === "cpu") return cpu();
  if (cudaProviderInstalled() === false) {
    const reason = "onnxruntime-node has no CUDA provider library installed";
    if (setting === "cuda") throw new CudaUnavailableError(new Error(reason));
    log(`execution provider auto: CUDA unavailable (${reason}); using CPU`);
    return cpu();
  }
  try {
    return {
      session: await ort.InferenceSession.create(graphPath, sessionOptions("cuda")),
      provider: "cuda",
    };
  } catch (err) {
    if (setting === "cuda") throw new CudaUnavailableError(err);
    log(`execution provider auto: CUDA unavailable (${(err as Error).message.split("\n")[0]}); using CPU`);
    return cpu();
  }
}
