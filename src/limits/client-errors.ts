import type { Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Limits } from "../config/limits-schema.js";
import { answerAndClose, rawError } from "./raw-response.js";
import type { LimitName, LimitReporter } from "./report.js";

/** Node's own answer to other client errors while nobody listens for them. */
const BAD_REQUEST = Buffer.from("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");

/**
 * Answers the parser errors that are limits: a request head not received within headerTimeout (408: Node's
 * headersTimeout fired) and one larger than maxHeaderSize (431). Node answers client errors itself only while
 * nobody listens to `clientError`; other errors get Node's answer here unless another listener takes them.
 */
export function answerLimitErrors(server: Server, limits: Limits, report: LimitReporter): void {
  const byCode = new Map<string, { limit: LimitName; answer: Buffer; msg: string }>([
    [
      "ERR_HTTP_REQUEST_TIMEOUT",
      {
        limit: "headerTimeout",
        answer: rawError(
          "REQUEST_TIMEOUT",
          `request head not received within ${limits.headerTimeout / 1000} s`,
        ),
        msg: "connection cut: request head too slow",
      },
    ],
    [
      "HPE_HEADER_OVERFLOW",
      {
        limit: "maxHeaderSize",
        answer: rawError("HEADERS_TOO_LARGE", `request head larger than ${limits.maxHeaderSize} bytes`),
        msg: "request refused: head too large",
      },
    ],
  ]);
  server.prependListener("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
    // Not writable: answered already (a parser error after our answer, e.g. the client's own close).
    if (!socket.writable) return;
    const hit = byCode.get(err.code ?? "");
    if (!hit && server.listenerCount("clientError") > 1) return;
    if (hit) report.exceeded(hit.limit, "info", { ip: socket.remoteAddress }, hit.msg);
    // A pipelined request's head failed while the answer to an earlier one is being sent: nothing may follow
    // those bytes but the rest of that answer, so the connection is only cut (as Node does).
    if ((socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage?.headersSent)
      socket.destroy();
    else answerAndClose(socket, hit?.answer ?? BAD_REQUEST);
  });
}
