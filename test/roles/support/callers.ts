// One call, made by a real client of each protocol, answered as a code name
// ("ok", "permission_denied", ...) and the response as proto JSON: the
// generated Connect clients (Connect JSON and binary, gRPC-Web), @grpc/grpc-js
// with the .proto loaded at run time (gRPC over HTTP/2), and plain fetch on
// the M3O paths (Users only).
import type { DescMethod, DescService, JsonObject } from "@bufbuild/protobuf";
import { fromJson, toJson } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { grpcAddress, grpcClientCtor } from "../../support/grpc-clients.js";

export const PROTOCOLS = ["connect-json", "connect-binary", "grpc-web", "grpc", "m3o"] as const;
export type Protocol = (typeof PROTOCOLS)[number];

export interface Answer {
  /** "ok" or the snake_case code name (as Connect names codes). */
  code: string;
  /** The response as proto JSON (camelCase), when ok. */
  json?: JsonObject;
  /** For M3O answers: the HTTP status and the body's status word. */
  http?: { status: number; statusWord?: string; retryAfter: string | null };
  retryAfter?: string | null;
}

const codeName = (code: number): string =>
  Code[code]!.replace(/[A-Z]/g, (c, i: number) => (i === 0 ? c.toLowerCase() : `_${c.toLowerCase()}`));

const PROTO_FILES: Record<string, string> = {
  "users.v1.Users": "users/v1/users.proto",
  "users.v1.KeysService": "users/v1/keys.proto",
  "users.v1.WebhooksService": "users/v1/webhooks.proto",
};

export class Callers {
  private readonly grpcClients = new Map<string, grpc.Client & Record<string, (...args: unknown[]) => unknown>>();

  constructor(private readonly url: string) {}

  /** Protocols that serve this service (the M3O paths serve Users only). */
  static protocolsFor(service: DescService): readonly Protocol[] {
    return service.typeName === "users.v1.Users" ? PROTOCOLS : PROTOCOLS.filter((p) => p !== "m3o");
  }

  async call(
    protocol: Protocol,
    service: DescService,
    method: DescMethod,
    request: JsonObject,
    headers: Record<string, string>,
  ): Promise<Answer> {
    if (protocol === "m3o") return this.m3o(method, request, headers);
    if (protocol === "grpc") return this.grpcJs(service, method, request, headers);
    const transport =
      protocol === "grpc-web"
        ? createGrpcWebTransport({ baseUrl: this.url, httpVersion: "1.1" })
        : createConnectTransport({
            baseUrl: this.url,
            httpVersion: "1.1",
            useBinaryFormat: protocol === "connect-binary",
          });
    const client = createClient(service, transport) as unknown as Record<
      string,
      (req: unknown, options: { headers: Record<string, string> }) => Promise<unknown>
    >;
    try {
      const message = fromJson(method.input, request);
      const response = await client[method.localName]!(message, { headers });
      return { code: "ok", json: toJson(method.output, response as never) as JsonObject };
    } catch (err) {
      const e = ConnectError.from(err);
      return { code: codeName(e.code), retryAfter: e.metadata.get("retry-after") };
    }
  }

  private grpcJs(service: DescService, method: DescMethod, request: JsonObject, headers: Record<string, string>) {
    let client = this.grpcClients.get(service.typeName);
    if (!client) {
      const Ctor = grpcClientCtor(PROTO_FILES[service.typeName]!, service.typeName);
      client = new Ctor(grpcAddress(this.url), grpc.credentials.createInsecure());
      this.grpcClients.set(service.typeName, client);
    }
    const metadata = new grpc.Metadata();
    for (const [name, value] of Object.entries(headers)) metadata.set(name, value);
    // proto-loader with keepCase takes the .proto's snake_case field names.
    const body = toJson(method.input, fromJson(method.input, request), { useProtoFieldName: true });
    return new Promise<Answer>((resolve) => {
      client![method.name]!(body, metadata, (err: grpc.ServiceError | null, res: unknown) => {
        if (err) {
          const retry = err.metadata?.get("retry-after")[0];
          resolve({ code: codeName(err.code), retryAfter: retry === undefined ? null : String(retry) });
        } else {
          resolve({
            code: "ok",
            json: toJson(
              method.output,
              fromJson(method.output, res as JsonObject, { ignoreUnknownFields: true }),
            ) as JsonObject,
          });
        }
      });
    });
  }

  private async m3o(method: DescMethod, request: JsonObject, headers: Record<string, string>): Promise<Answer> {
    const body = toJson(method.input, fromJson(method.input, request), { useProtoFieldName: true });
    const res = await fetch(`${this.url}/users/Users/${method.name}`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    const retryAfter = res.headers.get("retry-after");
    if (res.status === 200) {
      const json = toJson(method.output, fromJson(method.output, JSON.parse(text), { ignoreUnknownFields: true }));
      return { code: "ok", json: json as JsonObject, http: { status: 200, retryAfter } };
    }
    const parsed = JSON.parse(text) as { status?: string };
    const byStatus: Record<number, string> = {
      400: "invalid_argument",
      401: "unauthenticated",
      403: "permission_denied",
      404: "not_found",
      409: "already_exists",
      413: "resource_exhausted",
      429: "resource_exhausted",
      500: "internal",
      503: "unavailable",
    };
    return {
      code: byStatus[res.status] ?? `http_${res.status}`,
      http: { status: res.status, statusWord: parsed.status, retryAfter },
      retryAfter,
    };
  }

  close(): void {
    for (const client of this.grpcClients.values()) client.close();
  }
}
