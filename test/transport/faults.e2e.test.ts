// The error codes that come from the server's state rather than from the
// request (Aborted, ResourceExhausted from a saturated hashing queue,
// DeadlineExceeded, Internal, Unavailable), each checked over all four
// protocols on the real port: gRPC (grpc-js), gRPC-Web and Connect (the
// generated client) and the M3O paths (plain HTTP).

import { fromJson, type JsonObject } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { Users } from "../../gen/users/v1/users_pb.js";
import { ENGINES } from "../support/databases.js";
import { hideTable, holdWriteLock } from "../support/faults.js";
import { type GrpcUsersClient, grpcUsersClient } from "../support/grpc-js.js";
import { holdHashing, untilHashWaiting } from "../support/hashing.js";
import { CURL_HEADERS, httpRequest } from "../support/http.js";
import { startTestServer, type TestServer } from "../support/server.js";

/** How a call ended, in each protocol's own terms. */
interface Outcome {
  /** The Connect/gRPC code (they share numbers), or "ok". */
  code: Code | "ok";
  message: string;
  /** The HTTP status, for protocols that carry the code in it. */
  httpStatus?: number;
}

type Protocol = "gRPC" | "gRPC-Web" | "Connect" | "M3O";
const PROTOCOLS: Protocol[] = ["gRPC", "gRPC-Web", "Connect", "M3O"];
type Call = (
  method: keyof typeof Users.method,
  request: JsonObject,
  headers: Record<string, string>,
) => Promise<Outcome>;

/** The four real clients, each calling one RPC with a proto-JSON request. */
function clients(t: TestServer, grpc: GrpcUsersClient): Record<Protocol, Call> {
  const generated =
    (client: Client<typeof Users>): Call =>
    async (method, request, headers) => {
      const input = fromJson(Users.method[method].input, request);
      try {
        await (client[method] as (req: unknown, opts: object) => Promise<unknown>)(input, { headers });
        return { code: "ok", message: "" };
      } catch (err) {
        const e = ConnectError.from(err);
        return { code: e.code, message: e.rawMessage };
      }
    };
  const upperFirst = (name: string) => name[0]!.toUpperCase() + name.slice(1);
  return {
    async gRPC(method, request, headers) {
      try {
        await grpc.call(upperFirst(method), request, headers);
        return { code: "ok", message: "" };
      } catch (err) {
        const e = err as { code: number; details: string };
        return { code: e.code as Code, message: e.details };
      }
    },
    "gRPC-Web": generated(createClient(Users, createGrpcWebTransport({ baseUrl: t.url, httpVersion: "1.1" }))),
    Connect: async (method, request, headers) => {
      const res = await httpRequest(`${t.url}/users.v1.Users/${upperFirst(method)}`, {
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(request),
      });
      if (res.status === 200) return { code: "ok", message: "", httpStatus: 200 };
      const body = res.json as { code: string; message: string };
      const code =
        Code[body.code.replace(/(^|_)([a-z])/g, (_m, _u, c: string) => c.toUpperCase()) as keyof typeof Code];
      return { code, message: body.message, httpStatus: res.status };
    },
    async M3O(method, request, headers) {
      const res = await httpRequest(`${t.url}/users/Users/${upperFirst(method)}`, {
        headers: { ...CURL_HEADERS, ...headers },
        body: JSON.stringify(request),
      });
      const body = res.json as { id: string; code: number; detail: string; status: string };
      if (res.status === 200) return { code: "ok", message: "", httpStatus: 200 };
      expect(body).toMatchObject({ id: `users.${upperFirst(method)}`, code: res.status });
      return { code: CODE_OF_M3O_STATUS[res.status] ?? Code.Unknown, message: body.detail, httpStatus: res.status };
    },
  };
}

/** The README's HTTP status for each code (M3O's only differs for an oversized body). */
const HTTP: Partial<Record<Code, number>> = {
  [Code.Aborted]: 409,
  [Code.ResourceExhausted]: 429,
  [Code.Unavailable]: 503,
  [Code.DeadlineExceeded]: 504,
  [Code.Internal]: 500,
};
const CODE_OF_M3O_STATUS: Record<number, Code> = {
  409: Code.Aborted,
  429: Code.ResourceExhausted,
  503: Code.Unavailable,
  504: Code.DeadlineExceeded,
  500: Code.Internal,
};

/** Expects the outcome to be `code` with `message`, as the protocol shows it. */
function expectError(protocol: Protocol, outcome: Outcome, code: Code, message: string): void {
  expect({ protocol, code: outcome.code, message: outcome.message }).toEqual({ protocol, code, message });
  if (protocol === "Connect" || protocol === "M3O")
    expect({ protocol, status: outcome.httpStatus }).toEqual({ protocol, status: HTTP[code] });
}

describe.each(ENGINES)("errors from the server's state, over every protocol (%s)", (engine) => {
  let t: TestServer;
  let grpc: GrpcUsersClient;
  let call: Record<Protocol, Call>;
  let admin: Record<string, string>;

  beforeAll(async () => {
    t = await startTestServer({
      engine,
      // One hash at a time and at most two waiting: a test that holds the one
      // slot decides exactly when hashing proceeds.
      // A held database lock fails fast: 200 ms instead of 5 s.
      env: {
        HASH_CONCURRENCY: "1",
        HASH_QUEUE_MAX: "2",
        PG_STATEMENT_TIMEOUT_MS: "200",
        SQLITE_BUSY_TIMEOUT_MS: "200",
        API_KEY_CACHE_SECONDS: "3600",
      },
    });
    admin = { authorization: `Bearer ${t.adminKey}` };
    grpc = grpcUsersClient(`127.0.0.1:${t.port}`);
    call = clients(t, grpc);
  });
  afterAll(async () => {
    grpc.close();
    await t.close();
  });

  test.each(PROTOCOLS)("%s: a hash that cannot even wait is ResourceExhausted", async (protocol) => {
    const release = holdHashing(t.server.hasher.queue);
    try {
      const queued = [1, 2].map((i) =>
        call[protocol](
          "create",
          {
            username: `queued${i}-${protocol.replace(/\W/g, "")}`,
            email: `q${i}${protocol.length}@example.com`,
            password: "password1",
          },
          admin,
        ),
      );
      await untilHashWaiting(t.server.hasher.queue, 2);
      const refused = await call[protocol]("login", { username: "anyone", password: "password1" }, admin);
      expectError(protocol, refused, Code.ResourceExhausted, "the service is busy hashing passwords; retry shortly");
      release();
      for (const outcome of await Promise.all(queued)) expect(outcome.code).toBe("ok");
    } finally {
      release();
    }
  });

  test.each(PROTOCOLS)("%s: the loser of two concurrent password changes is Aborted", async (protocol) => {
    const username = `racer-${protocol.replace(/\W/g, "").toLowerCase()}`;
    const created = await grpc.call<{ user: { id: string } }>(
      "Create",
      { username, email: `${username}@example.com`, password: "password1" },
      admin,
    );
    const change = (to: string) =>
      call[protocol](
        "updatePassword",
        { user_id: created.user.id, old_password: "password1", new_password: to, confirm_password: to },
        admin,
      );
    const release = holdHashing(t.server.hasher.queue);
    // Both calls check the old password before either stores its new one.
    const both = [change("first-new-password"), change("second-new-password")];
    await untilHashWaiting(t.server.hasher.queue, 2);
    release();
    // Which one arrives first is up to the network: one wins, the other is Aborted.
    const outcomes = await Promise.all(both);
    const lost = outcomes.find((o) => o.code !== "ok");
    expect(outcomes.filter((o) => o.code === "ok")).toHaveLength(1);
    expectError(protocol, lost!, Code.Aborted, "the password was changed by another request meanwhile; retry");
  });

  test.each(PROTOCOLS)(
    "%s: a write that cannot get the database lock in time is DeadlineExceeded",
    async (protocol) => {
      const fault = await holdWriteLock(t.config.databaseUrl);
      let outcome: Outcome;
      try {
        outcome = await call[protocol]("delete", { id: "someone" }, admin);
      } finally {
        await fault.release();
      }
      expectError(protocol, outcome, Code.DeadlineExceeded, "the database did not answer in time; retry");
    },
  );

  test.each(PROTOCOLS)(
    "%s: an unexpected failure is Internal with no detail; the log has it with the request id",
    async (protocol) => {
      const requestId = `internal-${protocol.replace(/\W/g, "")}`;
      const fault = await hideTable(t.config.databaseUrl, "sessions");
      let outcome: Outcome;
      try {
        outcome = await call[protocol](
          "readSession",
          { session_id: "whatever" },
          { ...admin, "x-request-id": requestId },
        );
      } finally {
        await fault.release();
      }
      expectError(protocol, outcome, Code.Internal, "internal error");
      const logged = t.logs
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .find((l) => l.request_id === requestId);
      expect(logged).toMatchObject({ level: "error", code: "internal", rpc: "users.v1.Users/ReadSession" });
      expect(JSON.stringify(logged)).toMatch(/sessions/);
    },
  );
});

describe.each(ENGINES)("a database that is gone, over every protocol (%s)", (engine) => {
  let t: TestServer;
  let grpc: GrpcUsersClient;
  let call: Record<Protocol, Call>;
  let admin: Record<string, string>;

  beforeAll(async () => {
    t = await startTestServer({ engine, env: { API_KEY_CACHE_SECONDS: "3600" } });
    admin = { authorization: `Bearer ${t.adminKey}` };
    grpc = grpcUsersClient(`127.0.0.1:${t.port}`);
    call = clients(t, grpc);
    await grpc.call("Search", {}, admin); // caches the key, so the calls below reach the RPC
    await t.server.repo.close();
  });
  afterAll(async () => {
    grpc.close();
    await t.close();
  });

  test.each(PROTOCOLS)("%s: Unavailable", async (protocol) => {
    const outcome = await call[protocol]("read", { id: "anyone" }, admin);
    expectError(protocol, outcome, Code.Unavailable, "the database is unavailable; retry shortly");
  });
});
