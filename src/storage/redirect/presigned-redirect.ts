import type { StorageDriver } from "../driver.js";
import { DriverWrapper } from "./driver-wrapper.js";
import { checkExpiresIn } from "./url-signer.js";

/** Signs a GET of the object at `path` with the storage's own credentials (an S3 presigned URL). */
export type Presign = (path: string, expiresInSeconds: number) => Promise<string>;

/** Sends clients straight to the object storage with a presigned URL; everything else goes to the wrapped driver. */
export class PresignedRedirect extends DriverWrapper {
  private readonly expiresInSeconds: number;

  constructor(
    inner: StorageDriver,
    private readonly presign: Presign,
    expiresInSeconds: number,
  ) {
    super(inner);
    this.expiresInSeconds = checkExpiresIn(expiresInSeconds);
  }

  override redirectURL(path: string): Promise<string> {
    return this.presign(path, this.expiresInSeconds);
  }
}
