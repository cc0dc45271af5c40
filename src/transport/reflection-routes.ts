// gRPC server reflection (grpc.reflection.v1 and v1alpha), so grpcurl,
// `buf curl --reflect` and Postman can list and call every RPC without the
// .proto files. It answers from the descriptors compiled into gen/.
// Reflection is a bidirectional stream, so it works over HTTP/2 only.
import { createRegistry, type DescFile, type Registry, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import { file_google_rpc_error_details } from "../../gen/google/rpc/error_details_pb.js";
import { file_grpc_health_v1_health } from "../../gen/grpc/health/v1/health_pb.js";
import {
  file_grpc_reflection_v1_reflection,
  ServerReflection as ReflectionV1,
} from "../../gen/grpc/reflection/v1/reflection_pb.js";
import {
  file_grpc_reflection_v1alpha_reflection,
  ServerReflection as ReflectionV1alpha,
} from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { file_users_v1_users } from "../../gen/users/v1/users_pb.js";
import { UNKEYED_BODY_MAX_BYTES } from "./early-auth.js";

/** The request and response shapes shared by v1 and v1alpha (same fields, different packages). */
interface ReflectionRequest {
  host: string;
  messageRequest:
    | { case: "fileByFilename" | "fileContainingSymbol" | "allExtensionNumbersOfType" | "listServices"; value: string }
    | { case: "fileContainingExtension"; value: { containingType: string; extensionNumber: number } }
    | { case: undefined; value?: undefined };
}

type ReflectionAnswer =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: "listServicesResponse"; value: { service: Array<{ name: string }> } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

const NOT_FOUND = 5;
const INVALID_ARGUMENT = 3;

export function registerReflection(router: ConnectRouter, interceptors: Interceptor[]): void {
  const files = [
    file_users_v1_users,
    // The error details every failed call carries, so clients using reflection can decode them.
    file_google_rpc_error_details,
    file_grpc_health_v1_health,
    file_grpc_reflection_v1_reflection,
    file_grpc_reflection_v1alpha_reflection,
  ];
  const registry = createRegistry(...files);
  const byName = new Map<string, DescFile>();
  const index = (file: DescFile) => {
    byName.set(file.name.endsWith(".proto") ? file.name : `${file.name}.proto`, file);
    file.dependencies.forEach(index);
  };
  files.forEach(index);
  const services = files.flatMap((file) => file.services.map((service) => service.typeName)).sort();
  const answer = (req: ReflectionRequest) => answerRequest(registry, byName, services, req);

  for (const service of [ReflectionV1, ReflectionV1alpha]) {
    router.service(
      service as typeof ReflectionV1,
      {
        async *serverReflectionInfo(requests) {
          for await (const req of requests) {
            yield { validHost: req.host, originalRequest: req, messageResponse: answer(req) };
          }
        },
      },
      { interceptors, readMaxBytes: UNKEYED_BODY_MAX_BYTES },
    );
  }
}

function answerRequest(
  registry: Registry,
  files: Map<string, DescFile>,
  services: string[],
  req: ReflectionRequest,
): ReflectionAnswer {
  const { messageRequest } = req;
  switch (messageRequest.case) {
    case "listServices":
      return { case: "listServicesResponse", value: { service: services.map((name) => ({ name })) } };
    case "fileByFilename": {
      const file = files.get(messageRequest.value);
      return file ? filesAnswer(file) : error(NOT_FOUND, `file not found: ${messageRequest.value}`);
    }
    case "fileContainingSymbol": {
      const file = fileOfSymbol(registry, messageRequest.value);
      return file ? filesAnswer(file) : error(NOT_FOUND, `symbol not found: ${messageRequest.value}`);
    }
    case "fileContainingExtension": {
      const { containingType, extensionNumber } = messageRequest.value;
      const message = registry.getMessage(containingType);
      const extension = message && registry.getExtensionFor(message, extensionNumber);
      return extension
        ? filesAnswer(extension.file)
        : error(NOT_FOUND, `extension not found: ${containingType}(${extensionNumber})`);
    }
    case "allExtensionNumbersOfType": {
      const message = registry.getMessage(messageRequest.value);
      if (!message) return error(NOT_FOUND, `type not found: ${messageRequest.value}`);
      const numbers: number[] = [];
      for (const type of registry) {
        if (type.kind === "extension" && type.extendee.typeName === message.typeName) numbers.push(type.number);
      }
      return {
        case: "allExtensionNumbersResponse",
        value: { baseTypeName: message.typeName, extensionNumber: numbers },
      };
    }
    default:
      return error(INVALID_ARGUMENT, "empty reflection request");
  }
}

/** A symbol may name a message, enum, service or extension, or a method or field inside one. */
function fileOfSymbol(registry: Registry, symbol: string): DescFile | undefined {
  const direct = registry.get(symbol);
  if (direct) return direct.file;
  const parent = registry.get(symbol.slice(0, Math.max(0, symbol.lastIndexOf("."))));
  const member = symbol.slice(symbol.lastIndexOf(".") + 1);
  if (parent?.kind === "service" && parent.methods.some((m) => m.name === member)) return parent.file;
  if (parent?.kind === "message" && parent.fields.some((f) => f.name === member)) return parent.file;
  if (parent?.kind === "enum" && parent.values.some((v) => v.name === member)) return parent.file;
  return undefined;
}

/** The file and everything it imports, as serialized FileDescriptorProtos. */
function filesAnswer(file: DescFile): ReflectionAnswer {
  const seen = new Set<string>();
  const out: Uint8Array[] = [];
  const visit = (f: DescFile) => {
    if (seen.has(f.name)) return;
    seen.add(f.name);
    out.push(toBinary(FileDescriptorProtoSchema, f.proto));
    f.dependencies.forEach(visit);
  };
  visit(file);
  return { case: "fileDescriptorResponse", value: { fileDescriptorProto: out } };
}

function error(errorCode: number, errorMessage: string): ReflectionAnswer {
  return { case: "errorResponse", value: { errorCode, errorMessage } };
}
