/**
 * One GpuClient (and circuit breaker) per isolate and configuration, so breaker state and round-robin
 * position survive across requests and across Durable Object instances in the same isolate.
 * @module
 */
import type { EdgeConfig } from "../config";
import { CircuitBreaker } from "./circuit-breaker";
import { GpuClient } from "./client";

// Keyed by the configuration's content: each Durable Object instance has its own env object.
const clients = new Map<string, GpuClient>();

export function gpuClientFor(config: EdgeConfig): GpuClient {
  const id = JSON.stringify(config);
  let client = clients.get(id);
  if (!client) {
    client = new GpuClient({
      backends: config.gpuBackends,
      secret: config.gpuHmacSecret,
      backendToken: config.gpuBackendToken,
      modelRevision: config.modelRevision,
      attemptTimeoutMs: config.gpuAttemptTimeoutMs,
      deadlineMs: config.gpuDeadlineMs,
      breaker: new CircuitBreaker({
        failureThreshold: config.gpuBreakerFailures,
        cooldownMs: config.gpuBreakerCooldownMs,
      }),
    });
    clients.set(id, client);
  }
  return client;
}
