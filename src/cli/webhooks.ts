// `users-service webhooks add|list|remove`: manage webhook endpoints in the configured database.
import { parseArgs } from "node:util";
import type { Config } from "../config/config.js";
import { WebhooksService } from "../service/webhooks.js";
import { openRepository } from "../storage/open.js";
import { secretBox } from "../webhooks/secret-box.js";
import { printable } from "./keys.js";
import { UsageError } from "./usage.js";

export async function webhooksCommand(config: Config, args: string[], out: NodeJS.WritableStream): Promise<void> {
  const [action, ...rest] = args;
  const repo = await openRepository(config);
  const box = secretBox(config);
  const webhooks = new WebhooksService({ repo, now: Date.now, box, allowPrivate: config.webhookAllowPrivate });
  try {
    switch (action) {
      case "add": {
        const { values } = parseArgs({
          args: rest,
          options: { namespace: { type: "string" }, url: { type: "string" }, events: { type: "string" } },
        });
        if (values.namespace === undefined || values.url === undefined) {
          throw new UsageError("webhooks add needs --namespace NS and --url URL (and optionally --events a,b)");
        }
        const events = (values.events ?? "").split(",").filter((e) => e.trim() !== "");
        const { endpoint, secret } = await webhooks.add(values.namespace, values.url, events);
        out.write(
          `Added webhook ${endpoint.id} for namespace "${endpoint.namespace}": ${endpoint.url}\n` +
            `Events: ${endpoint.eventTypes.length === 0 ? "all" : endpoint.eventTypes.join(", ")}\n` +
            `Its signing secret is shown only this once; give it to the receiver to verify webhook-signature:\n\n  ${secret}\n\n`,
        );
        return;
      }
      case "list": {
        const rows = await webhooks.list();
        out.write("ID                   NAMESPACE              STATE     FAILURES  EVENTS  URL\n");
        for (const row of rows) {
          const events = row.eventTypes.length === 0 ? "all" : row.eventTypes.join(",");
          out.write(
            `${row.id.padEnd(21)}${row.namespace.padEnd(23)}${row.state.padEnd(10)}${String(row.failures).padEnd(10)}${events}  ${printable(row.url)}\n`,
          );
          if (row.disabledReason !== "") out.write(`  why disabled: ${printable(row.disabledReason)}\n`);
        }
        return;
      }
      case "remove": {
        const id = rest[0];
        if (!id) throw new UsageError("webhooks remove needs the endpoint id (see webhooks list)");
        await webhooks.remove(id);
        out.write(`Removed ${id} and its pending deliveries.\n`);
        return;
      }
      default:
        throw new UsageError("webhooks needs one of: add, list, remove");
    }
  } finally {
    await repo.close();
  }
}
