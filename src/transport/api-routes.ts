// The keyed API (users.v1.Users and users.v1.KeysService) on a router, behind
// the interceptors every keyed call goes through, in their order: observe
// (logs and metrics of every call, refusals included), auth (the API key),
// access (the key's role and a public key's proof). The server and the
// in-process test harness both register it here, so they cannot differ.
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import type { Services } from "../service/build-services.js";
import { accessInterceptor } from "./access-interceptor.js";
import { authInterceptor } from "./auth-interceptor.js";
import { registerKeys } from "./keys-routes.js";
import { registerUsers } from "./users-routes.js";
import { registerWebhooks } from "./webhooks-routes.js";

export function registerApi(router: ConnectRouter, services: Services, observe: Interceptor): void {
  const keyed = [observe, authInterceptor(services.keys), accessInterceptor(services.access)];
  registerUsers(router, services, keyed);
  registerKeys(router, services.keys, keyed);
  registerWebhooks(router, services.webhooks, keyed);
}
