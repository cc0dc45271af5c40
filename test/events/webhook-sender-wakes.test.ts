// The webhook sender's wakes, on both engines' real repositories: while no
// endpoint is enabled, a commit's wake runs no delivery round (a Login then
// costs no claim); an endpoint added here wakes it at once; one added by
// another replica is seen at the next poll; once the last endpoint is gone,
// wakes are skipped again.
import { afterEach, describe, expect, test } from "@jest/globals";
import { SecretBox } from "../../src/service/secret-box.js";
import type { Repository } from "../../src/storage/repository.js";
import { WebhookSender } from "../../src/webhooks/sender.js";
import { freshRepository } from "../storage/fixtures.js";
import { ENGINES } from "../support/databases.js";
import { until } from "./receiver.js";

const settle = () => new Promise((resolve) => setTimeout(resolve, 150));

describe.each(ENGINES)("webhook sender wakes (%s)", (engine) => {
  let repo: Repository | undefined;
  let sender: WebhookSender | undefined;
  afterEach(async () => {
    await sender?.stop();
    await repo?.close();
  });

  async function start(pollMs: number) {
    repo = await freshRepository(engine);
    const store = repo;
    const counted = { claims: 0 };
    sender = new WebhookSender({
      store: counting(store, counted),
      box: SecretBox.ephemeral(),
      now: Date.now,
      allowPrivate: true,
      timeoutMs: 1000,
      maxAttempts: 3,
      baseBackoffMs: 10,
      disableAfter: 5,
      pollMs,
    });
    sender.start();
    await until("the first round", () => counted.claims === 1);
    await settle();
    return counted;
  }

  async function addEndpoint(id: string) {
    await repo!.insertWebhook({
      id,
      namespace: "ns",
      url: "http://127.0.0.1:9/hook",
      eventTypes: [],
      sealedSecret: "sealed",
      createdMs: Date.now(),
    });
  }

  test("with no endpoint a wake runs no round; an endpoint added here wakes it; removing the last skips wakes again", async () => {
    const counted = await start(60_000);
    for (let i = 0; i < 5; i++) {
      sender!.wake();
      await settle();
    }
    expect(counted.claims).toBe(1);

    await addEndpoint("wh_00000000000000a1");
    sender!.endpointAdded();
    await until("the round endpointAdded wakes", () => counted.claims === 2);
    sender!.wake();
    await until("a woken round", () => counted.claims === 3);

    expect(await repo!.deleteWebhook("wh_00000000000000a1")).toBe(true);
    sender!.wake();
    await until("the round that finds no endpoint", () => counted.claims === 4);
    await settle();
    sender!.wake();
    await settle();
    expect(counted.claims).toBe(4);
  });

  test("an endpoint another replica added is seen at the next poll, and wakes run rounds from then on", async () => {
    const counted = await start(400);
    await addEndpoint("wh_00000000000000b2");
    // Not told (another replica added it): the next poll finds it.
    const polled = counted.claims;
    await until("the next poll", () => counted.claims > polled);
    await settle();
    const before = counted.claims;
    sender!.wake();
    await until("a woken round", () => counted.claims > before);
  });
});

/** The repository, counting its claims. */
function counting(repo: Repository, counted: { claims: number }): Repository {
  return new Proxy(repo, {
    get(target, key) {
      const value = Reflect.get(target, key);
      if (typeof value !== "function") return value;
      if (key !== "claimDeliveries") return value.bind(target);
      return (...args: Parameters<Repository["claimDeliveries"]>) => {
        counted.claims++;
        return target.claimDeliveries(...args);
      };
    },
  });
}
