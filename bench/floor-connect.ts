// Floor (b): a bare Connect handler for users.v1.Users that answers every
// benchmarked RPC with a constant response of the same shape as the service's,
// with no authentication, validation, storage, logging or metrics. It serves
// HTTP/1.1 (Connect JSON) on FLOOR_PORT and cleartext HTTP/2 (gRPC) on
// FLOOR_H2_PORT, with connect-node's own adapter on node:http and node:http2.
import http from "node:http";
import http2 from "node:http2";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { Users } from "../gen/users/v1/users_pb.js";
import { listenOn } from "./listen-on.js";

const created = 1795750572n;
const user = {
  id: "0196f0e2-7c1a-7d3e-9a51-3c2b8f1e4d6a",
  username: "benchuser",
  email: "benchuser@example.com",
  created,
  updated: created,
};
const session = {
  id: "q3V1n8b2Xc0fJ9kLm4PzR7tYw6sA5dE1gH2iK3lM4nO",
  userId: user.id,
  username: user.username,
  email: user.email,
  created,
  expires: created + 604800n,
};
/** The bench's searches ask for 10 users. */
const searchPage = Array.from({ length: 10 }, (_, i) => ({ ...user, username: `${user.username}${i}` }));

const routes = (router: ConnectRouter) =>
  router.service(Users, {
    login: () => ({ session }),
    readSession: () => ({ session }),
    read: () => ({ user }),
    search: () => ({ users: searchPage }),
    create: () => ({ user }),
  });

const handler = connectNodeAdapter({ routes });
await listenOn(http.createServer(handler), Number(process.env.FLOOR_PORT));
await listenOn(http2.createServer(handler), Number(process.env.FLOOR_H2_PORT));
// Exit normally on SIGTERM, so that --cpu-prof writes its profile.
process.once("SIGTERM", () => process.exit(0));
process.stdout.write("ready\n");
