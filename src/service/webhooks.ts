// Webhook endpoints: added, listed and removed by admins (WebhooksService,
// `users-service webhooks`). Each endpoint gets its own signing secret,
// shown once (whsec_..., the Standard Webhooks form) and stored only sealed
// (ENCRYPTION_KEY_FILE's keys, bound to the endpoint's id: webhookSecretContext).
// Deliveries themselves are src/webhooks/sender.ts.
import { randomBytes } from "node:crypto";
import type { Repository } from "../storage/repository.js";
import type { WebhookEndpoint } from "../storage/webhooks.js";
import { parseWebhookUrl, resolveTarget, WebhookUrlError } from "../webhooks/url-guard.js";
import { invalidArgument, ServiceError } from "./errors.js";
import { EVENT_TYPES } from "./events.js";
import type { SecretBox } from "./secret-box.js";
import * as rules from "./validation.js";

export const SECRET_PREFIX = "whsec_";
const ID = /^wh_[0-9a-f]{16}$/;

export interface WebhooksDeps {
  repo: Repository;
  now: () => number;
  /** Seals the signing secrets (ENCRYPTION_KEY_FILE). */
  box: SecretBox;
  allowPrivate: boolean;
  /** Told once an endpoint is stored (the sender then stops skipping wakes). */
  onAdded?: () => void;
}

export interface AddedWebhook {
  endpoint: WebhookEndpoint;
  /** The signing secret, whsec_ + base64. Returned once. */
  secret: string;
}

export class WebhooksService {
  constructor(private readonly deps: WebhooksDeps) {}

  async add(namespace: string, rawUrl: string, eventTypes: string[]): Promise<AddedWebhook> {
    const ns = rules.namespace(namespace, "namespace");
    const url = await this.checkUrl(rawUrl);
    const types = checkTypes(eventTypes);
    const secret = SECRET_PREFIX + randomBytes(32).toString("base64");
    const id = `wh_${randomBytes(8).toString("hex")}`;
    const createdMs = this.deps.now();
    await this.deps.repo.insertWebhook({
      id,
      namespace: ns,
      url,
      eventTypes: types,
      sealedSecret: this.deps.box.seal(secret, webhookSecretContext(id)),
      createdMs,
    });
    this.deps.onAdded?.();
    const endpoint: WebhookEndpoint = {
      id,
      namespace: ns,
      url,
      eventTypes: types,
      state: "enabled",
      failures: 0,
      disabledReason: "",
      createdMs,
      updatedMs: createdMs,
    };
    return { endpoint, secret };
  }

  list(): Promise<WebhookEndpoint[]> {
    return this.deps.repo.listWebhooks();
  }

  async remove(id: string): Promise<void> {
    if (!ID.test(id)) throw invalidArgument("id", "must be wh_ and 16 hex digits", "FIELD_MALFORMED");
    if (!(await this.deps.repo.deleteWebhook(id))) throw new ServiceError("WEBHOOK_NOT_FOUND");
  }

  /** The URL's rules, and its host's addresses now (checked again at every delivery). */
  private async checkUrl(raw: string): Promise<string> {
    try {
      const url = parseWebhookUrl(raw.trim());
      await resolveTarget(url, this.deps.allowPrivate);
      return url.toString();
    } catch (err) {
      if (err instanceof WebhookUrlError) throw invalidArgument("url", err.message, "FIELD_MALFORMED");
      throw err;
    }
  }
}

/** What a sealed secret is bound to: a sealed value copied to another endpoint's row does not open. */
export function webhookSecretContext(endpointId: string): string {
  return `webhook:${endpointId}`;
}

function checkTypes(raw: string[]): string[] {
  if (raw.length > EVENT_TYPES.length) {
    throw invalidArgument("events", `must list at most ${EVENT_TYPES.length} event types`, "FIELD_TOO_LONG");
  }
  const types = [...new Set(raw.map((t) => t.trim()).filter((t) => t !== ""))];
  for (const type of types) {
    if (!(EVENT_TYPES as readonly string[]).includes(type)) {
      throw invalidArgument(
        "events",
        `each must be one of ${EVENT_TYPES.join(", ")} (none: every type)`,
        "FIELD_MALFORMED",
      );
    }
  }
  return types.sort();
}
