import type { IncomingMessage, RequestListener, ServerOptions, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { SecureContextOptions } from "node:tls";
import type { Logger } from "../log/logger.js";
import type { Metrics } from "../metrics/metrics.js";
import { type KeyPair, loadKeyPair, type TlsFiles } from "./key-pair.js";

/**
 * TLS 1.2 at least (Node's default too, stated so that no runtime flag can lower it). Node's cipher list and
 * curves are kept: TLS 1.3 and ECDHE with AEAD ciphers first, no RC4, DES, MD5 or export ciphers.
 */
const PROTOCOL = { minVersion: "TLSv1.2" } as const satisfies SecureContextOptions;

/**
 * The HTTPS side of the registry server: its certificate, loaded from `tls.cert`/`tls.key`, and reloaded from
 * the same files on demand (SIGHUP) without a restart, so a renewed certificate needs no dropped connection.
 */
export class TlsEndpoint {
  private server: { setSecureContext(options: SecureContextOptions): void } | undefined;

  private constructor(
    private readonly files: TlsFiles,
    private pair: KeyPair,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  /** Reads and checks the pair; throws TlsSetupError naming the file at fault. */
  static async load(files: TlsFiles, metrics: Metrics, log: Logger): Promise<TlsEndpoint> {
    const endpoint = new TlsEndpoint(files, await loadKeyPair(files), metrics, log);
    endpoint.loaded("TLS certificate loaded");
    return endpoint;
  }

  /**
   * An https server with the HTTP `options` and `handler`; a TLS handshake not done within `handshakeTimeout`
   * ms is cut, as a request head that is too slow is.
   */
  createServer<Res extends typeof ServerResponse<IncomingMessage>>(
    options: ServerOptions<typeof IncomingMessage, Res>,
    handler: RequestListener<typeof IncomingMessage, Res>,
    handshakeTimeout: number,
  ): Server<typeof IncomingMessage, Res> {
    const { cert, key } = this.pair;
    const server = createServer({ ...options, ...PROTOCOL, cert, key, handshakeTimeout }, handler);
    this.server = server;
    return server;
  }

  /**
   * Reads the files again and serves the new pair to new connections; open connections keep the one they
   * started with. A pair that fails to load is logged and counted, and the current one stays: false.
   */
  async reload(): Promise<boolean> {
    try {
      const pair = await loadKeyPair(this.files);
      this.server?.setSecureContext({ ...PROTOCOL, cert: pair.cert, key: pair.key });
      this.pair = pair;
    } catch (err) {
      this.metrics.tlsReloads.inc({ outcome: "failed" });
      this.log.error(
        { err: (err as Error).message, serial: this.pair.leaf.serialNumber },
        "TLS reload failed: still serving the current certificate",
      );
      return false;
    }
    this.metrics.tlsReloads.inc({ outcome: "ok" });
    this.loaded("TLS certificate reloaded");
    return true;
  }

  private loaded(message: string): void {
    const { leaf } = this.pair;
    const expires = new Date(leaf.validTo);
    this.metrics.tlsCertificateExpiry.set(expires.getTime() / 1000);
    const fields = { cert: this.files.cert, subject: leaf.subject, serial: leaf.serialNumber, expires };
    if (expires.getTime() < Date.now()) this.log.error(fields, `${message}, but it has expired`);
    else this.log.info(fields, message);
  }
}
