// Reads a request body into memory, refusing it as soon as it passes maxBytes
// (the declared length is checked first, so an honest oversized upload is
// refused before any of it is read).
import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import { type BodyHold, bodiesBusy } from "./body-budget.js";
import { abandonBody } from "./listener.js";

export class BodyTooLarge extends Error {
  constructor(readonly maxBytes: number) {
    super(`request body: must be at most ${maxBytes} bytes`);
    this.name = "BodyTooLarge";
  }
}

/**
 * Past the limit, reading stops without destroying the request: destroying an
 * unfinished HTTP/1.1 request destroys its connection at once, and the refusal
 * written just after could be lost. The listener throws the rest away
 * (abandonBody).
 */
export function readBody(
  req: IncomingMessage | Http2ServerRequest,
  maxBytes: number,
  hold?: BodyHold,
): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? NaN);
  if (declared > maxBytes) {
    abandonBody(req);
    return Promise.reject(new BodyTooLarge(maxBytes));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
      req.pause();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        stop();
        abandonBody(req);
        reject(new BodyTooLarge(maxBytes));
      } else if (hold && !hold.take(chunk.length)) {
        stop();
        abandonBody(req);
        reject(bodiesBusy());
      } else {
        chunks.push(chunk);
      }
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      stop();
      reject(err);
    };
    const onClose = () => {
      stop();
      reject(new Error("request closed before its body ended"));
    };
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("error", onError);
    req.once("close", onClose);
  });
}

/** A request body of one chunk, as Connect's universal requests take it. */
export async function* oneChunk(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}
