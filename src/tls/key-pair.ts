import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";

/** A certificate or key that can't be used: the message names the file and what is wrong with it. */
export class TlsSetupError extends Error {
  override name = "TlsSetupError";
}

/** The PEM files of `tls.cert` (the certificate, then any intermediates) and `tls.key`. */
export interface TlsFiles {
  cert: string;
  key: string;
}

/** A certificate chain and its private key, read and checked to belong together. */
export interface KeyPair {
  cert: Buffer;
  key: Buffer;
  /** The first certificate of the chain: the one the key must match, shown in the log. */
  leaf: X509Certificate;
}

async function read(setting: string, file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new TlsSetupError(`${setting} ${file}: ${(err as Error).message}`);
  }
}

/**
 * Reads both files and checks them here rather than letting OpenSSL fail inside the server, so that the error
 * says which file is wrong (a typo in a path, a key from another pair, an encrypted key).
 */
export async function loadKeyPair(files: TlsFiles): Promise<KeyPair> {
  const [cert, key] = await Promise.all([read("tls.cert", files.cert), read("tls.key", files.key)]);
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (err) {
    throw new TlsSetupError(`tls.cert ${files.cert}: not a PEM certificate (${(err as Error).message})`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new TlsSetupError(
      `tls.key ${files.key}: not an unencrypted PEM private key (${(err as Error).message})`,
    );
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new TlsSetupError(`tls.key ${files.key} is not the key of the certificate in ${files.cert}`);
  }
  return { cert, key, leaf };
}
