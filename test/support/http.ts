// Plain HTTP/1.1 requests with node:http, as curl makes them. Unlike fetch, an
// answer that arrives before the whole body was sent (413 for an oversized
// body) is still read instead of being lost to a reset connection.
import http from "node:http";

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  json: unknown;
}

export interface HttpRequest {
  method?: string;
  headers?: Record<string, string>;
  /** Sent as is; a string is sent as UTF-8. */
  body?: string | Buffer;
  /** Send the body in chunks without a content-length (chunked transfer encoding). */
  chunked?: boolean;
}

/** What `curl URL -H ... -d BODY` sends: POST with a form content type. */
export const CURL_HEADERS = {
  "content-type": "application/x-www-form-urlencoded",
  accept: "*/*",
  "user-agent": "curl/8.5.0",
};

export function httpRequest(url: string, request: HttpRequest = {}): Promise<HttpAnswer> {
  const body = typeof request.body === "string" ? Buffer.from(request.body, "utf8") : request.body;
  const headers: Record<string, string> = { ...request.headers };
  if (body && !request.chunked) headers["content-length"] = String(body.length);
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: request.method ?? "POST", headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", reject);
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    // The server may answer and close before reading everything we send.
    req.on("error", (err) => (req.writableEnded ? undefined : reject(err)));
    if (!body) return void req.end();
    if (!request.chunked) return void req.end(body);
    const size = 64 * 1024;
    let offset = 0;
    const writeMore = (): void => {
      while (offset < body.length) {
        const more = req.write(body.subarray(offset, offset + size));
        offset += size;
        if (!more) return void req.once("drain", writeMore);
      }
      req.end();
    };
    writeMore();
  });
}
