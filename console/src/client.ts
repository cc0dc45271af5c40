// The generated Users and KeysService clients over the Connect protocol, calling the API on
// the console's own origin (so no CORS is involved). Every call carries the
// in-memory credentials as headers.
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { KeysService } from "../../gen/users/v1/keys_pb.js";
import { Users } from "../../gen/users/v1/users_pb.js";
import { getCredentials } from "./credentials.js";

const withCredentials: Interceptor = (next) => (req) => {
  const credentials = getCredentials();
  if (credentials) {
    req.header.set("authorization", `Bearer ${credentials.key}`);
    if (credentials.namespace !== "") req.header.set("micro-namespace", credentials.namespace);
  }
  return next(req);
};

/** The API lives at the root of the origin that serves the console at /console/. */
function apiBaseUrl(): string {
  return new URL("..", window.location.href).href.replace(/\/$/, "");
}

export type UsersClient = Client<typeof Users>;
/** Key management (admin keys only). */
export type KeysClient = Client<typeof KeysService>;

const transport = () =>
  createConnectTransport({ baseUrl: apiBaseUrl(), interceptors: [withCredentials], defaultTimeoutMs: 30_000 });

export function createUsersClient(): UsersClient {
  return createClient(Users, transport());
}

export function createKeysClient(): KeysClient {
  return createClient(KeysService, transport());
}
