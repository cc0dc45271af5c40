// Reads a request body into memory, refusing it as soon as it passes maxBytes
// (the declared length is checked first, so an honest oversized upload is
// refused before any of it is read).
import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";

export class BodyTooLarge extends Error {
  constructor(readonly maxBytes: number) {
    super(`request body: must be at most ${maxBytes} bytes`);
    this.name = "BodyTooLarge";
  }
}

export async function readBody(req: IncomingMessage | Http2ServerRequest, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? NaN);
  if (declared > maxBytes) throw new BodyTooLarge(maxBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new BodyTooLarge(maxBytes);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}
