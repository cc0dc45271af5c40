// A @grpc/grpc-js client of users.v1.Users, made as another Node service would:
// proto/users/v1/users.proto loaded at run time with @grpc/proto-loader, field
// names as written in the .proto (keepCase), int64 values as strings, and the
// API key and namespace as call metadata.
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

const PROTO = fileURLToPath(new URL("../../proto/users/v1/users.proto", import.meta.url));
// users.proto imports its siblings by their path from proto/ ("users/v1/recovery.proto").
const PROTO_ROOT = fileURLToPath(new URL("../../proto", import.meta.url));

export interface GrpcFailure {
  code: grpc.status;
  /** The status message exactly as grpc-js decoded it. */
  details: string;
  /** The status message (the same as details: the server encodes it so grpc-js decodes it fully). */
  message: string;
  metadata: grpc.Metadata;
}

export interface GrpcUsersClient {
  /** Calls a unary RPC by its .proto name (e.g. "Create"); resolves with the response object. */
  call<T = Record<string, unknown>>(method: string, request: object, metadata?: Record<string, string>): Promise<T>;
  /** Calls and expects a failure; resolves with its status. */
  fail(method: string, request: object, metadata?: Record<string, string>): Promise<GrpcFailure>;
  close(): void;
}

type Unary<T> = (
  request: object,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, res: T) => void,
) => void;

let definition: protoLoader.PackageDefinition | undefined;

export function grpcUsersClient(address: string): GrpcUsersClient {
  definition ??= protoLoader.loadSync(PROTO, {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
    includeDirs: [PROTO_ROOT],
  });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    users: { v1: { Users: grpc.ServiceClientConstructor } };
  };
  const client = new pkg.users.v1.Users(address, grpc.credentials.createInsecure());

  const call = <T>(method: string, request: object, headers: Record<string, string> = {}) =>
    new Promise<T>((resolve, reject) => {
      const metadata = new grpc.Metadata();
      for (const [name, value] of Object.entries(headers)) metadata.set(name, value);
      const fn = (client as unknown as Record<string, Unary<T> | undefined>)[method];
      if (typeof fn !== "function") return reject(new Error(`no method ${method}`));
      fn.call(client, request, metadata, { deadline: Date.now() + 20_000 }, (err, res) =>
        err ? reject(err) : resolve(res),
      );
    });

  return {
    call,
    async fail(method, request, metadata) {
      let res: unknown;
      try {
        res = await call(method, request, metadata);
      } catch (err) {
        const e = err as grpc.ServiceError;
        return { code: e.code, details: e.details, message: e.details, metadata: e.metadata };
      }
      throw new Error(`expected ${method} to fail, it returned ${JSON.stringify(res)}`);
    },
    close: () => client.close(),
  };
}
