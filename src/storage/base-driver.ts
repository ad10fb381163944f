import type { Readable } from "node:stream";
import type { Metrics } from "../metrics/metrics.js";
import { type FileInfo, type FileWriter, InvalidPathError, type StorageDriver } from "./driver.js";

// Components may not start with "_" or "." so drivers can keep private files (temp uploads) beside the content.
const PATH_RE = /^(?:\/[A-Za-z0-9][A-Za-z0-9._-]*)+$|^\/$/;

/**
 * Wraps every driver: validates paths, names the driver in errors and times operations, so each driver stays
 * small and trusts its input.
 */
export class BaseDriver implements StorageDriver {
  readonly name: string;

  constructor(
    private readonly inner: StorageDriver,
    private readonly metrics?: Metrics,
  ) {
    this.name = inner.name;
    const localFile = inner.localFile?.bind(inner);
    if (localFile) {
      this.localFile = (path) => {
        this.check(path);
        return localFile(path);
      };
    }
  }

  stat(path: string): Promise<FileInfo | undefined> {
    return this.timed("stat", path, () => this.inner.stat(path));
  }

  async reader(path: string, offset = 0, length?: number): Promise<Readable> {
    if (!Number.isSafeInteger(offset) || offset < 0 || (length !== undefined && length < 0)) {
      throw new RangeError(`${this.name}: invalid read range ${offset}+${length}`);
    }
    return this.timed("reader", path, () => this.inner.reader(path, offset, length));
  }

  getContent(path: string): Promise<Buffer> {
    return this.timed("getContent", path, () => this.inner.getContent(path));
  }

  putContent(path: string, content: Buffer): Promise<void> {
    return this.timed("putContent", path, () => this.inner.putContent(path, content));
  }

  writer(path: string): Promise<FileWriter> {
    return this.timed("writer", path, () => this.inner.writer(path));
  }

  move(from: string, to: string): Promise<void> {
    return this.timed("move", to, async () => {
      this.check(from);
      return this.inner.move(from, to);
    });
  }

  delete(path: string): Promise<void> {
    return this.timed("delete", path, () => this.inner.delete(path));
  }

  list(path: string): Promise<string[]> {
    return this.timed("list", path, () => this.inner.list(path));
  }

  redirectURL(path: string): Promise<string | undefined> {
    return this.timed("redirectURL", path, () => this.inner.redirectURL(path));
  }

  localFile?(path: string): string;

  async close(): Promise<void> {
    await this.inner.close?.();
  }

  private check(path: string): void {
    if (!PATH_RE.test(path) || path.includes("..")) throw new InvalidPathError(this.name, path);
  }

  private async timed<T>(op: string, path: string, fn: () => Promise<T>): Promise<T> {
    this.check(path);
    const end = this.metrics?.storageSeconds.startTimer({ driver: this.name, op });
    try {
      return await fn();
    } finally {
      end?.();
    }
  }
}
