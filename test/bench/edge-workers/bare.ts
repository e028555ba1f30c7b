/**
 * Benchmark baseline: the smallest Worker that serves an R2 object (GET /{key}), bound to the same bucket as
 * the edge. Its latency and throughput under `wrangler dev` are what the edge's cache hit is compared with.
 */
export default {
  async fetch(request, env) {
    const key = new URL(request.url).pathname.slice(1);
    const object = await env.IMAGES.get(key);
    if (!object) return new Response("not found", { status: 404 });
    const headers = new Headers();
    object.writeHttpMetadata(headers);
    headers.set("etag", object.httpEtag);
    return new Response(object.body, { headers });
  },
} satisfies ExportedHandler<{ IMAGES: R2Bucket }>;
