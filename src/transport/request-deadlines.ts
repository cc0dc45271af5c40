// Deadlines for receiving each HTTP/1.1 request on one connection.
//
// Node's http.Server enforces headersTimeout and requestTimeout only from a
// connection-checking interval it starts when it listens itself; the
// HTTP/1.1 server here receives its sockets from the sniffing listener by
// emit("connection") and never listens, so without these timers a client
// trickling its headers or its body holds a connection (and a file
// descriptor) for ever.
import type http from "node:http";
import type net from "node:net";

export interface DeadlineLimits {
  /** From a request's first byte to the end of its headers, in ms. */
  headersTimeoutMs: number;
  /** From a request's first byte to the end of its body, in ms. */
  requestTimeoutMs: number;
}

/**
 * How far the answer of a request that missed its deadline had got: none
 * yet; being sent (a 408 cannot be written after part of an answer); or sent
 * in full before the rest of the body had arrived (a call refused early, its
 * body being thrown away).
 */
export type AnswerState = "none" | "sending" | "sent";

/**
 * What to do with a connection whose request missed a deadline; `startedAt`
 * is when the request began (performance.now()).
 */
export type OnMissedDeadline = (socket: net.Socket, answer: AnswerState, startedAt: number) => void;

/**
 * One connection's deadlines. A request starts with the first byte that
 * arrives while no request is in progress (or at its headers, for a request
 * pipelined behind another), and ends when its body has been received and
 * its response has finished: an idle keep-alive connection is left to the
 * keep-alive timeout. Only receiving is bounded, never the time the service
 * takes to answer.
 */
export class RequestDeadlines {
  private headersTimer: NodeJS.Timeout | undefined;
  private requestTimer: NodeJS.Timeout | undefined;
  private current: { req: http.IncomingMessage; res: http.ServerResponse } | undefined;
  private receiving = false;
  private startedAt = 0;

  constructor(
    private readonly socket: net.Socket,
    private readonly limits: DeadlineLimits,
    private readonly onMissed: OnMissedDeadline,
  ) {
    socket.on("data", () => {
      if (!this.receiving) this.begin();
    });
    socket.once("close", () => this.clear());
  }

  /** The bytes the sniffing listener read before the hand-over start the first request. */
  begin(): void {
    this.clear();
    this.receiving = true;
    this.startedAt = performance.now();
    this.headersTimer = setTimeout(() => this.miss(), this.limits.headersTimeoutMs);
    this.requestTimer = setTimeout(() => this.miss(), this.limits.requestTimeoutMs);
  }

  /** The request's headers are in: only the whole-request deadline is left. */
  headersReceived(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (!this.receiving) this.begin();
    clearTimeout(this.headersTimer);
    this.current = { req, res };
    let bodyDone = req.complete;
    let answered = false;
    const settle = () => {
      if (!bodyDone || !answered || this.current?.req !== req) return;
      this.current = undefined;
      this.clear();
    };
    req.once("end", () => {
      bodyDone = true;
      clearTimeout(this.requestTimer);
      settle();
    });
    res.once("close", () => {
      answered = true;
      // A body never read to its end is still bounded by the request deadline.
      bodyDone ||= req.complete;
      settle();
    });
  }

  private miss(): void {
    const current = this.current;
    // The whole request arrived (its body simply not read yet): nothing was missed.
    if (current?.req.complete) return;
    this.clear();
    if (this.socket.destroyed) return;
    const res = current?.res;
    const answer: AnswerState = !res?.headersSent ? "none" : res.writableFinished ? "sent" : "sending";
    this.onMissed(this.socket, answer, this.startedAt);
  }

  private clear(): void {
    clearTimeout(this.headersTimer);
    clearTimeout(this.requestTimer);
    this.headersTimer = this.requestTimer = undefined;
    this.receiving = false;
  }
}
