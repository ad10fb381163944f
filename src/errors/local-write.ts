import type { Logger } from "../log/logger.js";
import type { Metrics } from "../metrics/metrics.js";

/** How a local write failed: the disk (or a quota) is full, the device failed, or something else. */
export type LocalWriteKind = "no_space" | "io" | "other";

const NO_SPACE = new Set(["ENOSPC", "EDQUOT", "EFBIG", "SQLITE_FULL"]);
const IO = new Set(["EIO", "EROFS", "SQLITE_IOERR", "SQLITE_READONLY", "SQLITE_CANTOPEN"]);

/**
 * The kind of a failed write to the data directory (blob files, spool, metadata database), from its code: errno
 * names, or better-sqlite3's `SQLITE_*` codes (extended ones like SQLITE_IOERR_WRITE count as their base code).
 * Undefined when the error is not one of these: a bug or a remote failure, which must not be hidden.
 */
export function localWriteKind(err: unknown): LocalWriteKind | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code !== "string") return undefined;
  const base = code.startsWith("SQLITE_") ? code.split("_", 2).join("_") : code;
  if (NO_SPACE.has(base)) return "no_space";
  if (IO.has(base)) return "io";
  return undefined;
}

/** What was being cached when a local write failed (metadata: whatever it was, the database failed). */
export type CacheWrite = "blob" | "manifest" | "metadata";

/**
 * Logs a failed local write at error level (the operator must free space or replace a disk) and counts it. The
 * request is still answered: only caching stops.
 */
export function reportLocalWrite(
  log: Logger,
  metrics: Metrics,
  what: CacheWrite,
  err: Error,
  fields: Record<string, unknown> = {},
): void {
  const kind = localWriteKind(err) ?? "other";
  const code = (err as NodeJS.ErrnoException).code;
  // The object's bytes may have been written; what failed is the database's record of them.
  const target = code?.startsWith("SQLITE_") ? "metadata" : what;
  metrics.localWriteErrors.inc({ what: target, kind });
  log.error(
    { ...fields, what: target, kind, code, err: err.message },
    "local write failed: serving without caching (free disk space or check the disk)",
  );
}

/**
 * Runs a write to the cache. When the disk or the database fails it (see localWriteKind), reports it and resolves
 * false: the caller answers its client all the same. Other errors are thrown.
 */
export async function cacheWrite(
  log: Logger,
  metrics: Metrics,
  what: CacheWrite,
  fields: Record<string, unknown>,
  write: () => Promise<unknown>,
): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (err) {
    if (!localWriteKind(err)) throw err;
    reportLocalWrite(log, metrics, what, err as Error, fields);
    return false;
  }
}
