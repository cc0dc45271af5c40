// Server reflection over gRPC (HTTP/2), as grpcurl and buf curl --reflect use
// it: the listing and the descriptors must match proto/users/v1/users.proto.

import path from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { grpcAddress, grpcClientCtor } from "../support/grpc-clients.js";
import { startTestServer, type TestServer } from "../support/server.js";

type Answer = Record<string, unknown> & { message_response: string };

describe.each(["v1", "v1alpha"])("server reflection %s", (version) => {
  const Reflection = grpcClientCtor(
    `grpc/reflection/${version}/reflection.proto`,
    `grpc.reflection.${version}.ServerReflection`,
  );
  let t: TestServer;
  let client: InstanceType<typeof Reflection>;

  beforeAll(async () => {
    t = await startTestServer();
    client = new Reflection(grpcAddress(t.url), grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    client.close();
    await t.close();
  });

  /** Sends the requests on one bidirectional stream and collects the answers. */
  function ask(requests: object[]): Promise<Answer[]> {
    return new Promise((resolve, reject) => {
      const call = (client.ServerReflectionInfo as () => grpc.ClientDuplexStream<object, Answer>)();
      const answers: Answer[] = [];
      call.on("data", (a: Answer) => answers.push(a));
      call.on("error", reject);
      call.on("end", () => resolve(answers));
      for (const r of requests) call.write(r);
      call.end();
    });
  }

  test("lists every service, without an API key", async () => {
    const [answer] = await ask([{ list_services: "*" }]);
    const names = (answer!.list_services_response as { service: Array<{ name: string }> }).service.map((s) => s.name);
    expect(names).toEqual([
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
      "users.v1.Users",
    ]);
  });

  test("the Users descriptor matches the .proto: every RPC with its types, every message with its fields", async () => {
    const [bySymbol, byMethod, byFile, missing] = await ask([
      { file_containing_symbol: "users.v1.Users" },
      { file_containing_symbol: "users.v1.Users.Login" },
      { file_by_filename: "users/v1/users.proto" },
      { file_containing_symbol: "users.v1.Nope" },
    ]);
    for (const answer of [bySymbol, byMethod, byFile]) {
      expect(answer!.message_response).toBe("file_descriptor_response");
    }
    expect((missing!.error_response as { error_code: number }).error_code).toBe(grpc.status.NOT_FOUND);

    const bytes = (bySymbol!.file_descriptor_response as { file_descriptor_proto: Buffer[] }).file_descriptor_proto;
    const file = fromBinary(FileDescriptorProtoSchema, bytes[0]!);
    expect(file.name).toBe("users/v1/users.proto");

    // The same file read from disk by another toolchain (protobufjs via proto-loader).
    const root = path.resolve(process.cwd(), "proto");
    const fromDisk = protoLoader.loadSync(path.join(root, "users/v1/users.proto"), {
      keepCase: true,
      includeDirs: [root],
    });
    const service = fromDisk["users.v1.Users"] as Record<
      string,
      { requestType: { type: { name: string } }; responseType: { type: { name: string } } }
    >;
    const reflected = file.service.find((s) => s.name === "Users")!;
    expect(reflected.method.map((m) => m.name).sort()).toEqual(Object.keys(service).sort());
    for (const m of reflected.method) {
      expect(m.inputType).toBe(`.users.v1.${service[m.name]!.requestType.type.name}`);
      expect(m.outputType).toBe(`.users.v1.${service[m.name]!.responseType.type.name}`);
    }
    for (const message of file.messageType) {
      const onDisk = (
        fromDisk[`users.v1.${message.name}`] as { type: { field: Array<{ name: string; number: number }> } }
      ).type;
      expect(message.field.map((f) => [f.name, f.number])).toEqual(onDisk.field.map((f) => [f.name, f.number]));
    }
  });
});
