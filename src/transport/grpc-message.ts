// Error messages in gRPC's `grpc-message` trailer, readable by every client.
//
// Connect percent-encodes the message with encodeURIComponent, which encodes
// ":" "/" "@" "," as well. That is valid, but @grpc/grpc-js decodes with
// decodeURI, which leaves exactly those escaped: Node services would read
// "email%3A must be ...". gRPC's own rule is narrower (percent-encode only
// bytes outside printable ASCII, and "%"); re-encoding that way reads the same
// in grpc-js, grpc-go and every other client.
import type { OutgoingHttpHeaders } from "node:http";
import type { RequestHandler } from "./listener.js";

export function withPlainGrpcMessages(handler: RequestHandler): RequestHandler {
  return (req, res) => {
    const type = req.headers["content-type"] ?? "";
    // gRPC-Web carries its trailers in the body, read by browser clients with decodeURIComponent.
    if (type.startsWith("application/grpc") && !type.startsWith("application/grpc-web")) {
      const addTrailers = res.addTrailers.bind(res) as (headers: OutgoingHttpHeaders) => void;
      res.addTrailers = (headers: OutgoingHttpHeaders) => addTrailers(reencode(headers));
      const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => unknown;
      (res as { writeHead: (...args: unknown[]) => unknown }).writeHead = (...args: unknown[]) =>
        writeHead(...args.map((arg) => (arg !== null && typeof arg === "object" ? reencode(arg as OutgoingHttpHeaders) : arg)));
    }
    handler(req, res);
  };
}

function reencode(headers: OutgoingHttpHeaders): OutgoingHttpHeaders {
  const message = headers["grpc-message"];
  if (typeof message !== "string") return headers;
  let text: string;
  try {
    text = decodeURIComponent(message);
  } catch {
    return headers;
  }
  return { ...headers, "grpc-message": grpcPercentEncode(text) };
}

/** gRPC's percent-encoding: printable ASCII except "%" stays as it is. */
export function grpcPercentEncode(text: string): string {
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}
