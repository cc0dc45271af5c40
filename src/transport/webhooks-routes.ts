// The WebhooksService RPCs (admin keys only: access.ts) as Connect handlers
// over the protocol-free WebhooksService of src/service/webhooks.ts.
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import {
  type WebhookEndpoint as EndpointMessage,
  WebhooksService as WebhooksRpc,
} from "../../gen/users/v1/webhooks_pb.js";
import type { WebhooksService } from "../service/webhooks.js";
import type { WebhookEndpoint } from "../storage/webhooks.js";
import { unixSeconds } from "./unix-seconds.js";

type EndpointInit = Omit<EndpointMessage, "$typeName">;

export function registerWebhooks(router: ConnectRouter, webhooks: WebhooksService, interceptors: Interceptor[]): void {
  router.service(
    WebhooksRpc,
    {
      async listWebhooks() {
        return { webhooks: (await webhooks.list()).map(endpointMessage) };
      },
      async createWebhook(req) {
        const { endpoint, secret } = await webhooks.add(req.namespace, req.url, req.events);
        return { webhook: endpointMessage(endpoint), secret };
      },
      async deleteWebhook(req) {
        await webhooks.remove(req.id);
        return {};
      },
    },
    { interceptors },
  );
}

export function endpointMessage(e: WebhookEndpoint): EndpointInit {
  return {
    id: e.id,
    namespace: e.namespace,
    url: e.url,
    events: e.eventTypes,
    state: e.state,
    failures: BigInt(e.failures),
    disabledReason: e.disabledReason,
    created: unixSeconds(e.createdMs),
  };
}
