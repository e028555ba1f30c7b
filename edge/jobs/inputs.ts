/**
 * The input picture of an edit job. A job re-dispatches its request from its alarm, minutes after the upload, so
 * the normalised pixels must outlive the request: they are written once to R2 (`job-inputs/{jobId}`, RGB8, up to
 * 12 MB, more than a Durable Object storage value may hold) and deleted as soon as the job is terminal
 * (succeeded, failed or cancelled), at the latest at its retention. The key shape cannot match an image URL
 * (`/v1/images/{64 hex}.{ext}`), so an input is never served. Every image of one request shares one object.
 * @module
 */
import type { PlannedImage } from "../generation/plan";

type Env = { IMAGES: R2Bucket };

export interface JobInput {
  /** R2 key of the pixels. */
  key: string;
  width: number;
  height: number;
  /** SHA-256 of the normalised pixels (the cache-key field), checked against the object's metadata on read. */
  hash: string;
}

const inputKey = (jobId: string) => `job-inputs/${jobId}`;

/**
 * Splits a plan's images into what DO storage keeps (the jobs without their pixels) and the input stored in R2
 * (null for text-to-image). Throws when R2 refuses the write; the caller answers 503.
 */
export async function storeJobInput(
  env: Env,
  jobId: string,
  images: PlannedImage[],
): Promise<{ images: PlannedImage[]; input: JobInput | null }> {
  const first = images[0]?.job;
  if (!first?.initPixels || !first.request.init_image || !first.initImageHash) return { images, input: null };
  const input: JobInput = {
    key: inputKey(jobId),
    width: first.request.init_image.width,
    height: first.request.init_image.height,
    hash: first.initImageHash,
  };
  await env.IMAGES.put(input.key, first.initPixels, {
    customMetadata: { hash: input.hash, width: String(input.width), height: String(input.height) },
  });
  const stripped = images.map(({ job: { initPixels: _pixels, ...job }, ...image }) => ({ ...image, job }));
  return { images: stripped, input };
}

/** The stored pixels, or null when they are gone (deleted or never written) or are not the job's input. */
export async function readJobInput(env: Env, input: JobInput): Promise<Uint8Array | null> {
  const object = await env.IMAGES.get(input.key);
  if (!object || object.customMetadata?.hash !== input.hash) return null;
  const pixels = new Uint8Array(await object.arrayBuffer());
  return pixels.length === input.width * input.height * 3 ? pixels : null;
}

export async function deleteJobInput(env: Env, input: JobInput | null | undefined): Promise<void> {
  if (input) await env.IMAGES.delete(input.key);
}
