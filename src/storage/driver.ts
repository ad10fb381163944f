import type { Readable } from "node:stream";

/**
 * A narrow, path-based storage driver (after Distribution's StorageDriver). Paths are absolute, slash-separated
 * and validated by the base wrapper; content addressing and repositories live above this interface.
 */
export interface StorageDriver {
  readonly name: string;
  /** undefined when nothing is stored at the path. */
  stat(path: string): Promise<FileInfo | undefined>;
  /** A stream of `length` bytes (default: to the end) from `offset`; rejects with PathNotFoundError. */
  reader(path: string, offset?: number, length?: number): Promise<Readable>;
  getContent(path: string): Promise<Buffer>;
  /** Writes a small file atomically. */
  putContent(path: string, content: Buffer): Promise<void>;
  /** A writer whose bytes become visible at `path` only on commit(). */
  writer(path: string): Promise<FileWriter>;
  move(from: string, to: string): Promise<void>;
  delete(path: string): Promise<void>;
  /** Direct children of a directory path, as full paths, sorted. */
  list(path: string): Promise<string[]>;
  /** A URL the client may fetch the content from, or undefined for "serve it yourself". */
  redirectURL(path: string): Promise<string | undefined>;
  /**
   * The local file that holds `path`, for drivers that store content as local files: lets the HTTP layer send it
   * with reused buffers instead of a stream that allocates one per chunk.
   */
  localFile?(path: string): string;
  /** Releases what the driver holds open (connection pools); it is not used afterwards. */
  close?(): Promise<void>;
}

export interface FileInfo {
  path: string;
  size: number;
  modTime: Date;
  isDir: boolean;
}

export interface FileWriter {
  /**
   * Appends the bytes; several buffers are written as one (writev), without concatenating them. The caller may
   * reuse the buffers once the promise resolved.
   */
  write(data: Buffer | readonly Buffer[]): Promise<void>;
  /** Bytes written so far. */
  readonly size: number;
  /**
   * A local file holding exactly the bytes written so far, readable while writing, when the driver has one.
   * Lets the blob fan-out tail the driver's own temp file instead of spooling every byte twice.
   */
  readonly localPath?: string;
  commit(): Promise<void>;
  cancel(): Promise<void>;
}

export class PathNotFoundError extends Error {
  constructor(
    readonly driver: string,
    readonly path: string,
  ) {
    super(`${driver}: path not found: ${path}`);
    this.name = "PathNotFoundError";
  }
}

/** Storage that can't be opened at start (an unreachable endpoint, wrong credentials, a missing bucket). */
export class StorageSetupError extends Error {
  override name = "StorageSetupError";
}

export class InvalidPathError extends Error {
  constructor(
    readonly driver: string,
    readonly path: string,
  ) {
    super(`${driver}: invalid path: ${path}`);
    this.name = "InvalidPathError";
  }
}
