import type { IncomingMessage, ServerResponse } from "node:http";
import { RegistryError } from "../errors/oci-errors.js";

const MAX_BODY = 1 << 20;

/** The request's JSON body (an object), or {} when it has none; REQUEST_INVALID otherwise. */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new RegistryError("REQUEST_INVALID", "request body larger than 1 MiB");
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new RegistryError("REQUEST_INVALID", "request body is not valid JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new RegistryError("REQUEST_INVALID", "request body must be a JSON object");
  }
  return body as Record<string, unknown>;
}

/** A JSON answer no cache keeps (admin and users API answers carry secrets and per-user figures). */
export function sendAdminJson(res: ServerResponse, body: unknown, status = 200): void {
  const buf = Buffer.from(`${JSON.stringify(body)}\n`);
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": buf.length,
    "Cache-Control": "no-store",
  });
  res.end(buf);
}

/** A streamed answer, one JSON event a line; the last is `{"type":"done",…}` or `{"type":"error",…}`. */
export interface EventStream {
  send(event: { type: string; [key: string]: unknown }): void;
  /** Aborted when the caller goes away: the work stops. */
  readonly signal: AbortSignal;
}

/**
 * Runs `work` with an event stream: headers go out at once (200, application/x-ndjson), then its events, then
 * the result as `done`. A failure after the headers can only be told in the stream: an `error` event.
 */
export async function streamEvents(
  res: ServerResponse,
  work: (events: EventStream) => Promise<Record<string, unknown>>,
): Promise<void> {
  const aborter = new AbortController();
  const gone = () => {
    if (!res.writableFinished) aborter.abort();
  };
  // The server keeps half-open connections (client-errors.ts), so a caller that left shows only as the end of its
  // side; no caller of a long operation half-closes and still waits for it.
  const socket = res.req.socket;
  socket.once("end", gone);
  res.once("close", () => {
    socket.off("end", gone);
    gone();
  });
  res.writeHead(200, { "Content-Type": "application/x-ndjson", "Cache-Control": "no-store" });
  res.flushHeaders();
  const send = (event: Record<string, unknown>) => {
    if (!res.destroyed) res.write(`${JSON.stringify(event)}\n`);
  };
  try {
    const result = await work({ send, signal: aborter.signal });
    send({ type: "done", ...result });
  } catch (err) {
    send({ type: "error", message: (err as Error).message });
  }
  res.end();
}
