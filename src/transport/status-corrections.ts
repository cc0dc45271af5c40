// Corrections to answers of @connectrpc/connect, on their way to the wire.
//
// 1. A request body that cannot be decoded (protobuf bytes protobuf-es rejects,
//    or a gRPC frame flagged compressed with no grpc-encoding) is answered by
//    the library with Internal (HTTP 500 on Connect), before any interceptor
//    runs. It is the caller's mistake, not ours: it becomes InvalidArgument,
//    so monitoring never counts garbage input as a server failure. (The gRPC
//    spec prefers INTERNAL for the compression case; we put callers' tooling
//    and our own alerting first.)
// 2. gRPC's grpc-message is percent-encoded by the library with
//    encodeURIComponent, which also encodes ":" "/" "@" ","; @grpc/grpc-js
//    decodes with decodeURI and would show "email%3A must be ...". It is
//    re-encoded as the gRPC spec says (only non-printable bytes and "%"),
//    which every client decodes to the same text.
import { Code } from "@connectrpc/connect";
import {
  pipe,
  transformJoinEnvelopes,
  transformSplitEnvelope,
  type UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import { trailerFlag, trailerParse, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";

const UNDECODABLE = /^(parse binary: |received compressed envelope, but do not know how to decompress$)/;
const INTERNAL = String(Code.Internal);
const INVALID_ARGUMENT = String(Code.InvalidArgument);
/** Envelopes of an answer are ours, already within limits; this only bounds the parser. */
const MAX_ENVELOPE = 64 * 1024 * 1024;

export async function correctStatus(
  contentType: string | null,
  res: UniversalServerResponse,
): Promise<UniversalServerResponse> {
  const type = contentType ?? "";
  if (type.startsWith("application/grpc-web")) return { ...res, body: res.body && correctGrpcWebTrailer(res.body) };
  if (type.startsWith("application/grpc")) {
    if (!res.body) {
      correctGrpcStatus(res.header);
      correctGrpcStatus(res.trailer);
      return res;
    }
    return { ...res, body: correctGrpcFields(res.body, res.header, res.trailer) };
  }
  return res.status === 500 ? correctConnectError(res) : res;
}

/** gRPC over HTTP/2: the status is in the trailers (or the headers of a trailers-only answer). */
function correctGrpcStatus(fields: Headers | undefined): void {
  const message = fields?.get("grpc-message");
  if (!fields || message === null || message === undefined) return;
  const text = safeDecode(message);
  if (fields.get("grpc-status") === INTERNAL && UNDECODABLE.test(text)) {
    fields.set("grpc-status", INVALID_ARGUMENT);
    fields.set("grpc-message", grpcPercentEncode(undecodableMessage(text)));
  } else {
    fields.set("grpc-message", grpcPercentEncode(text));
  }
}

/**
 * The library fills the status in while the body is being sent (the request
 * is decoded then), so the headers are corrected when the first chunk is
 * ready (they are written just after) and the trailers once the body ended.
 */
async function* correctGrpcFields(
  body: AsyncIterable<Uint8Array>,
  header: Headers | undefined,
  trailer: Headers | undefined,
): AsyncIterable<Uint8Array> {
  let first = true;
  for await (const chunk of body) {
    if (first) correctGrpcStatus(header);
    first = false;
    yield chunk;
  }
  correctGrpcStatus(header);
  correctGrpcStatus(trailer);
}

/** gRPC-Web: the status travels in a trailer frame at the end of the body. */
async function* correctGrpcWebTrailer(body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  yield* pipe(
    body,
    transformSplitEnvelope(MAX_ENVELOPE),
    async function* (envelopes) {
      for await (const envelope of envelopes) {
        if ((envelope.flags & trailerFlag) !== trailerFlag) {
          yield envelope;
          continue;
        }
        const trailer = trailerParse(envelope.data);
        const message = safeDecode(trailer.get("grpc-message") ?? "");
        if (trailer.get("grpc-status") === INTERNAL && UNDECODABLE.test(message)) {
          trailer.set("grpc-status", INVALID_ARGUMENT);
          trailer.set("grpc-message", encodeURIComponent(undecodableMessage(message)));
        }
        yield { flags: envelope.flags, data: trailerSerialize(trailer) };
      }
    },
    transformJoinEnvelopes(),
  );
}

/** Connect: an error is a JSON body {code, message} with the matching HTTP status. */
async function correctConnectError(res: UniversalServerResponse): Promise<UniversalServerResponse> {
  if (!res.body || !(res.header?.get("content-type") ?? "").startsWith("application/json")) return res;
  const chunks: Uint8Array[] = [];
  for await (const chunk of res.body) chunks.push(chunk);
  const bytes = Buffer.concat(chunks);
  let error: { code?: string; message?: string };
  try {
    error = JSON.parse(bytes.toString("utf8")) as typeof error;
  } catch {
    return { ...res, body: once(bytes) };
  }
  if (error.code !== "internal" || !UNDECODABLE.test(error.message ?? "")) return { ...res, body: once(bytes) };
  const corrected = Buffer.from(
    JSON.stringify({ code: "invalid_argument", message: undecodableMessage(error.message!) }),
  );
  const header = new Headers(res.header);
  header.delete("content-length");
  return { ...res, status: 400, header, body: once(corrected) };
}

function undecodableMessage(libraryMessage: string): string {
  return libraryMessage.startsWith("parse binary: ")
    ? `request message: not valid protobuf (${libraryMessage.slice("parse binary: ".length)})`
    : "request message: flagged compressed, but no grpc-encoding was given";
}

/** gRPC's percent-encoding: printable ASCII except "%" stays as it is. */
export function grpcPercentEncode(text: string): string {
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}
