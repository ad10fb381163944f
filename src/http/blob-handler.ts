import { parseDigest } from "../reference/reference.js";
import type { RepoContext, Services } from "./context.js";
import { parseRange } from "./range.js";

/** GET/HEAD /v2/<name>/blobs/<digest>: streams from storage or from the in-flight download, Range included. */
export async function handleBlob(s: Services, ctx: RepoContext): Promise<void> {
  const digest = parseDigest(ctx.ref);
  const { res } = ctx;
  const headers: Record<string, string | number> = {
    "Content-Type": "application/octet-stream",
    "Docker-Content-Digest": digest,
    "Accept-Ranges": "bytes",
    ETag: `"${digest}"`,
    "Cache-Control": "max-age=31536000, immutable",
  };
  if (ctx.head) {
    const { size, result } = await s.blobs.stat(ctx, digest);
    ctx.cache = result;
    res.writeHead(200, { ...headers, "Content-Length": size });
    res.end();
    return;
  }
  const blob = await s.blobs.get(ctx, digest, s.mayRedirect(ctx.req.headers["user-agent"]));
  // A redirect is a hit whose bytes someone else serves.
  ctx.cache = blob.redirectURL ? "redirect" : blob.result;
  s.metrics.cacheRequests.inc({ kind: "blob", result: ctx.cache });
  if (blob.redirectURL) {
    res.writeHead(307, { Location: blob.redirectURL, "Docker-Content-Digest": digest, "Content-Length": 0 });
    res.end();
    return;
  }
  const range = parseRange(ctx.req.headers.range, blob.size);
  const start = range?.start ?? 0;
  const length = range ? range.end - range.start + 1 : blob.size;
  const begin = () => {
    if (range) {
      res.writeHead(206, {
        ...headers,
        "Content-Length": length,
        "Content-Range": `bytes ${range.start}-${range.end}/${blob.size}`,
      });
    } else {
      res.writeHead(200, { ...headers, "Content-Length": length });
    }
  };
  let unsent = length;
  const sink = (chunk: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null) => {
        if (err) return reject(err);
        ctx.bytes += chunk.length;
        resolve();
      };
      unsent -= chunk.length;
      // The last chunk ends the response in the same write: a client that closes as soon as it has every byte
      // (dockerd, podman: Connection: close) must not find the response still open.
      if (unsent === 0) res.end(chunk, done);
      else res.write(chunk, done);
    });
  try {
    await blob.send({ start, length, begin, sink });
    if (!res.writableEnded) res.end();
  } finally {
    s.metrics.servedBytes.inc({ kind: "blob", registry: ctx.key.registry }, ctx.bytes);
  }
}
