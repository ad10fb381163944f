import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { OCI_ERRORS, type OciErrorCode } from "../errors/oci-errors.js";

/** How long a socket being closed after an error answer may still send before it is destroyed. */
const LINGER_MS = 2000;

/**
 * A whole HTTP/1.1 error answer as bytes (the OCI error envelope, `Connection: close`), for a socket that no
 * ServerResponse owns: refused before any request was parsed, or whose request could not be read.
 */
export function rawError(code: OciErrorCode, message: string, headers: Record<string, string> = {}): Buffer {
  const { status } = OCI_ERRORS[code];
  const body = JSON.stringify({ errors: [{ code, message, detail: null }] });
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
    "Docker-Distribution-API-Version: registry/2.0",
    "Content-Type: application/json; charset=utf-8",
    `Content-Length: ${Buffer.byteLength(body)}`,
    "Connection: close",
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  return Buffer.from(`${head.join("\r\n")}\r\n\r\n${body}`);
}

/**
 * Sends `answer` and closes our side, then lets the client close its own (or destroys the socket after LINGER_MS).
 * Destroying at once, with the client's request still unread, would reset the connection, and a reset can make
 * the client drop the answer before reading it.
 */
export function answerAndClose(socket: Duplex, answer: Buffer): void {
  socket.on("error", () => {});
  socket.end(answer);
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once("close", () => clearTimeout(timer));
}
