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
import type { Socket } from "node:net";
import type { ConnectError } from "@connectrpc/connect";
import { ServiceError } from "../service/errors.js";
import { toConnectError } from "./error-mapping.js";

export class BodyBudget {
  private held = 0;
  /** Holds to give back when an HTTP/1.1 connection closes: one listener per socket, however deep its pipeline. */
  private readonly onSocketClose = new WeakMap<Socket, Set<() => void>>();

  constructor(private readonly maxBytes: number) {}

  /**
   * The bytes held for one request, given back when its answer is done, or
   * when its connection closes first: an HTTP/1.1 answer queued behind
   * another (pipelining) never emits "close" if the socket goes away.
   */
  holdFor(
    req: http.IncomingMessage | http2.Http2ServerRequest,
    res: http.ServerResponse | http2.Http2ServerResponse,
  ): BodyHold {
    let mine = 0;
    let over = false;
    const socket = "stream" in req ? undefined : req.socket;
    const release = () => {
      if (over) return;
      over = true;
      this.held -= mine;
      mine = 0;
      res.off("close", release);
      if (socket) this.onSocketClose.get(socket)?.delete(release);
    };
    if (res.destroyed || socket?.destroyed) over = true;
    else {
      res.once("close", release);
      if (socket) this.whenClosed(socket).add(release);
    }
    return {
      take: (bytes) => {
        // A request already over (gone, or answered) takes nothing: nothing would give it back.
        if (over || this.held + bytes > this.maxBytes) return false;
        this.held += bytes;
        mine += bytes;
        return true;
      },
    };
  }

  private whenClosed(socket: Socket): Set<() => void> {
    let releases = this.onSocketClose.get(socket);
    if (!releases) {
      const created = new Set<() => void>();
      releases = created;
      this.onSocketClose.set(socket, created);
      socket.once("close", () => {
        for (const release of [...created]) release();
      });
    }
    return releases;
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
