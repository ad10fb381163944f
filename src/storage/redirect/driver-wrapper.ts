import type { Readable } from "node:stream";
import type { FileInfo, FileWriter, StorageDriver } from "../driver.js";

/**
 * Forwards every StorageDriver method to the wrapped driver unchanged, so a middleware (a redirect) subclasses it
 * and overrides only what it changes.
 */
export class DriverWrapper implements StorageDriver {
  readonly name: string;
  // Optional on the interface: present here exactly when the wrapped driver has it, since callers test for it.
  readonly localFile?: (path: string) => string;

  constructor(protected readonly inner: StorageDriver) {
    this.name = inner.name;
    if (inner.localFile) this.localFile = inner.localFile.bind(inner);
  }

  close(): Promise<void> {
    return this.inner.close?.() ?? Promise.resolve();
  }

  stat(path: string): Promise<FileInfo | undefined> {
    return this.inner.stat(path);
  }

  reader(path: string, offset?: number, length?: number): Promise<Readable> {
    return this.inner.reader(path, offset, length);
  }

  getContent(path: string): Promise<Buffer> {
    return this.inner.getContent(path);
  }

  putContent(path: string, content: Buffer): Promise<void> {
    return this.inner.putContent(path, content);
  }

  writer(path: string): Promise<FileWriter> {
    return this.inner.writer(path);
  }

  move(from: string, to: string): Promise<void> {
    return this.inner.move(from, to);
  }

  delete(path: string): Promise<void> {
    return this.inner.delete(path);
  }

  list(path: string): Promise<string[]> {
    return this.inner.list(path);
  }

  redirectURL(path: string): Promise<string | undefined> {
    return this.inner.redirectURL(path);
  }
}
