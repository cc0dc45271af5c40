// Corrections to answers of @connectrpc/connect, on their way to the wire.
//
// 1. A request body that cannot be decoded is the caller's mistake, answered
//    as InvalidArgument with the reason REQUEST_MALFORMED, saying where it
//    broke and never quoting it. The library answers protobuf bytes it
//    rejects, and a gRPC frame flagged compressed with no grpc-encoding, with
//    Internal (HTTP 500 on Connect), before any interceptor runs: monitoring
//    must never count garbage input as a server failure. (The gRPC spec
//    prefers INTERNAL for the compression case; we put callers' tooling and
//    our own alerting first.) Its JSON decode errors quote the body (V8's
//    JSON.parse) or the offending value (protobuf-es), a password say: they
//    are said again without it (json-decode-errors.ts).
// 2. An error the library raised by itself, without details, keeps its
//    message and gets its reason (BODY_TOO_LARGE for readMaxBytes, else its
//    code's name), so every error carries one.
// 3. gRPC's grpc-message is percent-encoded by the library with
//    encodeURIComponent, which also encodes ":" "/" "@" ","; @grpc/grpc-js
//    decodes with decodeURI and would show "email%3A must be ...". It is
//    re-encoded as the gRPC spec says (only non-printable bytes and "%"),
//    which every client decodes to the same text.
// 4. Every answer says `Cache-Control: no-store`: some carry a session id
//    (Login, ReadSession), and none is worth keeping in a shared cache.
import { createRegistry } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  pipe,
  transformJoinEnvelopes,
  transformSplitEnvelope,
  type UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import { errorFromJson, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { findTrailerError, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerParse, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";
import { file_grpc_health_v1_health } from "../../gen/grpc/health/v1/health_pb.js";
import { file_users_v1_users } from "../../gen/users/v1/users_pb.js";
import { ServiceError } from "../service/errors.js";
import { genericReason, HTTP_STATUS, reasonDetails, toConnectError } from "./error-mapping.js";
import { type DecodeProblem, jsonDecodeProblem } from "./json-decode-errors.js";

/** Envelopes of an answer are ours, already within limits; this only bounds the parser. */
const MAX_ENVELOPE = 64 * 1024 * 1024;
/** The request messages a JSON decode error can name a field of. */
const REQUESTS = createRegistry(file_users_v1_users, file_grpc_health_v1_health);

export async function correctStatus(
  contentType: string | null,
  res: UniversalServerResponse,
): Promise<UniversalServerResponse> {
  // The library fills the gRPC headers in later: they are changed in place, never replaced.
  const header = res.header ?? new Headers();
  header.set("cache-control", "no-store");
  const type = contentType ?? "";
  if (type.startsWith("application/grpc-web")) {
    return { ...res, header, body: res.body && correctGrpcWebTrailer(res.body) };
  }
  if (type.startsWith("application/grpc")) {
    if (!res.body) {
      correctGrpcStatus(header);
      correctGrpcStatus(res.trailer);
      return { ...res, header };
    }
    return { ...res, header, body: correctGrpcFields(res.body, header, res.trailer) };
  }
  return res.status >= 400 ? correctConnectError({ ...res, header }) : { ...res, header };
}

/**
 * The answer to send in place of an error the library made itself, or
 * undefined to keep it. Errors of our own carry details and are kept.
 */
function corrected(error: ConnectError): ConnectError | undefined {
  const problem = undecodable(error);
  if (problem) return toConnectError(new ServiceError("REQUEST_MALFORMED", problem)).error;
  if (error.details.length > 0) return undefined;
  // The library's own message is kept: it names the limit and never quotes input.
  const tooLarge = error.code === Code.ResourceExhausted && /readMaxBytes \d+/.test(error.rawMessage);
  const reason = tooLarge ? "BODY_TOO_LARGE" : genericReason(error.code);
  return new ConnectError(error.rawMessage, error.code, undefined, reasonDetails(reason, error.code));
}

function undecodable(error: ConnectError): DecodeProblem | undefined {
  const message = error.rawMessage;
  if (error.code === Code.Internal && message.startsWith("parse binary: ")) {
    return { rule: `request message: not valid protobuf (${message.slice("parse binary: ".length)})` };
  }
  if (error.code === Code.Internal && message === "received compressed envelope, but do not know how to decompress") {
    return { rule: "request message: flagged compressed, but no grpc-encoding was given" };
  }
  if (error.code === Code.InvalidArgument && message.startsWith("cannot decode ")) {
    return jsonDecodeProblem(message, (name) => REQUESTS.getMessage(name));
  }
  return undefined;
}

/** gRPC over HTTP/2: the status is in the trailers (or the headers of a trailers-only answer). */
function correctGrpcStatus(fields: Headers | undefined): void {
  const error = fields && findTrailerError(fields);
  if (!fields || !error) return;
  const replacement = corrected(error);
  if (replacement) setTrailerStatus(fields, replacement);
  fields.set("grpc-message", grpcPercentEncode((replacement ?? error).rawMessage));
}

/**
 * The library fills the status in while the body is being sent (the request
 * is decoded then), so the headers are corrected when the first chunk is
 * ready (they are written just after) and the trailers once the body ended.
 */
async function* correctGrpcFields(
  body: AsyncIterable<Uint8Array>,
  header: Headers,
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
        const error = findTrailerError(trailer);
        const replacement = error && corrected(error);
        if (replacement) setTrailerStatus(trailer, replacement);
        yield { flags: envelope.flags, data: trailerSerialize(trailer) };
      }
    },
    transformJoinEnvelopes(),
  );
}

/** Connect: an error is a JSON body {code, message, details} with the matching HTTP status. */
async function correctConnectError(res: UniversalServerResponse): Promise<UniversalServerResponse> {
  if (!res.body || !(res.header?.get("content-type") ?? "").startsWith("application/json")) return res;
  const chunks: Uint8Array[] = [];
  for await (const chunk of res.body) chunks.push(chunk);
  const bytes = Buffer.concat(chunks);
  let error: ConnectError;
  try {
    error = errorFromJson(JSON.parse(bytes.toString("utf8")), undefined, new ConnectError("", Code.Unknown));
  } catch {
    return { ...res, body: once(bytes) };
  }
  const replacement = corrected(error);
  if (!replacement) return { ...res, body: once(bytes) };
  const header = new Headers(res.header);
  header.delete("content-length");
  return { ...res, status: HTTP_STATUS[replacement.code], header, body: once(errorToJsonBytes(replacement, {})) };
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

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}
