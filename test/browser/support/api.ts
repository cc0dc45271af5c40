// The generated client from Node, to set up and check what the browser did.
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { Users } from "../../../gen/users/v1/users_pb.js";

export type UsersClient = Client<typeof Users>;

/** A Connect (HTTP/1.1) client that sends the admin key (and the namespace, when given) on every call. */
export function adminClient(baseUrl: string, adminKey: string, namespace?: string): UsersClient {
  return createClient(
    Users,
    createConnectTransport({
      baseUrl,
      httpVersion: "1.1",
      interceptors: [
        (next) => (req) => {
          req.header.set("authorization", `Bearer ${adminKey}`);
          if (namespace) req.header.set("micro-namespace", namespace);
          return next(req);
        },
      ],
    }),
  );
}
