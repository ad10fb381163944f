import { z } from "zod";
import { byteSize, duration } from "./values.js";

/** Limits against slow, greedy and hostile peers; each exceeded one gets its status, a log line and a metric. */
export const limitsSchema = z
  .strictObject({
    /** A client must send its whole request head within this (slowloris): else 408 and the socket closed. */
    headerTimeout: duration.prefault("20s"),
    /** A keep-alive connection with no request in flight is closed after this. */
    idleTimeout: duration.prefault("65s"),
    /** Largest request head (request line + headers) accepted: larger gets 431. */
    maxHeaderSize: byteSize.default(16 * 1024),
    /** Open client connections at once; more are refused (503) until some close. */
    maxConnections: z.number().int().positive().default(10_000),
    /** Open connections from one client IP address at once; more get 429. */
    maxConnectionsPerIp: z.number().int().positive().default(256),
    /** Whole-request deadline for everything but blob bodies (manifests, tags, APIs): 503 if not answered by then. */
    requestTimeout: duration.prefault("60s"),
    /** A blob body sent slower than this (bytes/s, averaged over sendRateWindow) is cut: a stuck reader is let go. */
    minSendRate: byteSize.default(1024),
    sendRateWindow: duration.prefault("60s"),
    /** Largest manifest accepted from upstream (Distribution's limit): larger is 502 and not cached. */
    maxManifestSize: byteSize.default(4 * 1024 * 1024),
    /** Largest token or other JSON response read from an upstream or its token server. */
    maxUpstreamJsonSize: byteSize.default(1024 * 1024),
  })
  .prefault({});

export type Limits = z.output<typeof limitsSchema>;
