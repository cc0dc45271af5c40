// Shared by the accounts suites (lookups, profiles, List, admin actions): a
// server per engine, calls over every protocol with the admin key, and the
// machine-readable reason of an error answer as each protocol carries it.
import type { JsonObject } from "@bufbuild/protobuf";
import { fromBinary } from "@bufbuild/protobuf";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen/google/rpc/status_pb.js";
import { type Method, type RpcAnswer, rpc } from "../reliability/support/rpc.js";
import type { Protocol, Wire, WireAnswer } from "../reliability/support/wire.js";

/**
 * The ErrorInfo reason of an error answer: from grpc-status-details-bin on
 * gRPC and gRPC-Web, from the JSON error's details on Connect; undefined on
 * the M3O paths, whose error shape has no details (M3O's own).
 */
export function reasonOf(protocol: Protocol, answer: WireAnswer): string | undefined {
  if (protocol === "m3o") return undefined;
  if (protocol === "grpc" || protocol === "grpc-web") {
    const bin = answer.headers["grpc-status-details-bin"];
    if (!bin) return "";
    const status = fromBinary(StatusSchema, Buffer.from(bin, "base64"));
    const info = status.details.find((any) => any.typeUrl.endsWith("google.rpc.ErrorInfo"));
    return info ? fromBinary(ErrorInfoSchema, info.value).reason : "";
  }
  const body = JSON.parse(answer.body.toString("utf8")) as { details?: Array<{ type: string; value: string }> };
  const info = body.details?.find((d) => d.type === "google.rpc.ErrorInfo");
  return info ? fromBinary(ErrorInfoSchema, Buffer.from(info.value, "base64")).reason : "";
}

/** The expected error over a protocol: its code, and its reason where the protocol carries one. */
export function expectedError(protocol: Protocol, code: string, reason: string) {
  return { code, reason: protocol === "m3o" ? undefined : reason };
}

/** What an error answer shows: its code and reason, to compare with expectedError. */
export function errorOf(protocol: Protocol, answer: WireAnswer) {
  return { code: answer.code, reason: answer.code === "ok" ? "ok" : reasonOf(protocol, answer) };
}

/** A call that must succeed; returns its decoded response. */
export async function okCall(
  wire: Wire,
  protocol: Protocol,
  method: Method,
  request: JsonObject,
  headers: Record<string, string>,
): Promise<JsonObject> {
  const answer: RpcAnswer = await rpc(wire, protocol, method, request, headers);
  if (answer.code !== "ok") throw new Error(`${method} over ${protocol}: ${answer.code} ${answer.message}`);
  return answer.json!;
}
