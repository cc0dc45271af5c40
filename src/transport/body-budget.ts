// Request bodies held in memory at once, all calls together.
//
// Each body is bounded (MAX_BODY_BYTES), but their sum was bounded only by
// connections × streams × MAX_BODY_BYTES: hundreds of GiB at the default
// caps. Any key will do to send a body (a browser app's public key is in its
// page), so half-sent bodies could hold memory until the request deadline. A
// unary call's body counts from the bytes it declares (or as they arrive)
// until its answer is done; a call that would pass MAX_BUFFERED_BODY_BYTES is
// refused with ResourceExhausted BODIES_BUSY and a retry-after, its body unread.
import type http from "node:http";
import type http2 from "node:http2";
import type { ConnectError } from "@connectrpc/connect";
import { ServiceError } from "../service/errors.js";
import { toConnectError } from "./error-mapping.js";

export class BodyBudget {
  private held = 0;

  constructor(private readonly maxBytes: number) {}

  /** The bytes held for one request, given back when its answer is done (or it is abandoned). */
  holdFor(res: http.ServerResponse | http2.Http2ServerResponse): BodyHold {
    let mine = 0;
    res.once("close", () => {
      this.held -= mine;
      mine = 0;
    });
    return {
      take: (bytes) => {
        if (this.held + bytes > this.maxBytes) return false;
        this.held += bytes;
        mine += bytes;
        return true;
      },
    };
  }

  /** Bytes held now (for tests and metrics). */
  get heldBytes(): number {
    return this.held;
  }
}

export interface BodyHold {
  /** Takes `bytes` more for this request; false (and nothing taken) when that would pass the budget. */
  take(bytes: number): boolean;
}

/** The refusal of a body the budget cannot hold. */
export function bodiesBusy(): ConnectError {
  return toConnectError(new ServiceError("BODIES_BUSY", { retryAfterSeconds: 1 })).error;
}

/** The chunks of `body`, each taken from the budget before it is passed on. */
export async function* budgeted(body: AsyncIterable<Uint8Array>, hold: BodyHold): AsyncIterable<Uint8Array> {
  for await (const chunk of body) {
    if (!hold.take(chunk.byteLength)) throw bodiesBusy();
    yield chunk;
  }
}
