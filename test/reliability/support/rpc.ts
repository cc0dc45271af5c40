// Well-formed calls over every protocol through the raw Wire: the request is
// given once as proto JSON (camelCase, as the generated types name fields) and
// encoded the way each protocol's clients encode it; a successful answer is
// decoded back into proto JSON, so a test reads every protocol's answer alike.
import {
  create,
  type DescMessage,
  fromBinary,
  fromJson,
  type JsonObject,
  type MessageInitShape,
  type MessageShape,
  ScalarType,
  toBinary,
  toJson,
} from "@bufbuild/protobuf";
import { Users } from "../../../gen/users/v1/users_pb.js";
import { grpcFrame, type Protocol, type Wire, type WireAnswer } from "./wire.js";

export type Method = keyof typeof Users.method;

export interface RpcAnswer extends WireAnswer {
  /** The response message as proto JSON, for "ok" answers. */
  json?: JsonObject;
}

/** The .proto name of a generated method name ("readSession" -> "ReadSession"). */
export const rpcName = (method: Method): string => method[0]!.toUpperCase() + method.slice(1);

/**
 * The request body a client of the protocol sends for this message. The
 * request is taken as given, unchecked, so a test can send what a careless
 * client would (strings with lone surrogates become U+FFFD in protobuf, and
 * stay escaped in JSON).
 */
export function encodeRequest(protocol: Protocol, method: Method, request: JsonObject): Buffer {
  const schema = Users.method[method].input;
  switch (protocol) {
    case "connect-json":
      return Buffer.from(JSON.stringify(request));
    case "m3o":
      // M3O clients use the documented snake_case names.
      return Buffer.from(
        JSON.stringify(Object.fromEntries(Object.entries(request).map(([k, v]) => [protoName(schema, k), v]))),
      );
    case "connect-binary":
      return Buffer.from(toBinary(schema, messageOf(schema, request)));
    case "grpc":
    case "grpc-web":
      return grpcFrame(toBinary(schema, messageOf(schema, request)));
  }
}

function protoName(schema: DescMessage, jsonName: string): string {
  return schema.fields.find((f) => f.jsonName === jsonName)?.name ?? jsonName;
}

/** The message from proto JSON without fromJson's checks (int64 fields given as strings or numbers). */
function messageOf<Desc extends DescMessage>(schema: Desc, request: JsonObject): MessageShape<Desc> {
  const init: Record<string, unknown> = {};
  for (const field of schema.fields) {
    const value = request[field.jsonName];
    if (value === undefined || value === null) continue;
    const int64 = field.fieldKind === "scalar" && field.scalar !== ScalarType.STRING;
    init[field.localName] = int64 ? BigInt(value as string) : value;
  }
  return create(schema, init as MessageInitShape<Desc>);
}

/** The response message of an "ok" answer as proto JSON. */
export function decodeResponse(protocol: Protocol, method: Method, answer: WireAnswer): JsonObject {
  const schema = Users.method[method].output;
  if (protocol === "connect-json" || protocol === "m3o") {
    const json = JSON.parse(answer.body.toString("utf8")) as JsonObject;
    return toJson(schema, fromJson(schema, json, { ignoreUnknownFields: true })) as JsonObject;
  }
  return toJson(schema, fromBinary(schema, answer.body)) as JsonObject;
}

export async function rpc(
  wire: Wire,
  protocol: Protocol,
  method: Method,
  request: JsonObject,
  headers: Record<string, string>,
): Promise<RpcAnswer> {
  const answer = await wire.send(protocol, {
    method: rpcName(method),
    body: encodeRequest(protocol, method, request),
    headers,
  });
  return answer.code === "ok" ? { ...answer, json: decodeResponse(protocol, method, answer) } : answer;
}
