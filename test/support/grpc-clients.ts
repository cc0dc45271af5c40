// @grpc/grpc-js clients built from the .proto files at run time, as another
// service would build them.
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

const PROTO_ROOT = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), "../../proto");

type ServiceClientCtor = new (
  address: string,
  credentials: grpc.ChannelCredentials,
) => grpc.Client & Record<string, (...args: unknown[]) => unknown>;

/** Loads `file` (relative to proto/) and returns the client constructor of `service` ("pkg.Service"). */
export function grpcClientCtor(file: string, service: string): ServiceClientCtor {
  const definition = protoLoader.loadSync(path.join(PROTO_ROOT, file), {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
    includeDirs: [PROTO_ROOT],
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as Record<string, unknown>;
  const ctor = service.split(".").reduce<unknown>((node, part) => (node as Record<string, unknown>)[part], loaded);
  return ctor as ServiceClientCtor;
}

export function grpcAddress(url: string): string {
  return new URL(url).host;
}

/** Calls a unary method and resolves with its response or rejects with the grpc ServiceError. */
export function unary<T>(
  client: grpc.Client & Record<string, (...args: unknown[]) => unknown>,
  method: string,
  request: unknown,
  metadata = new grpc.Metadata(),
): Promise<T> {
  return new Promise((resolve, reject) => {
    client[method]!(request, metadata, (err: grpc.ServiceError | null, res: T) => (err ? reject(err) : resolve(res)));
  });
}
