// One TCP port for HTTP/1.1 and HTTP/2: cleartext, or TLS when configured.
//
// gRPC clients speak HTTP/2 with "prior knowledge" (no TLS, no upgrade), while
// curl and browsers speak HTTP/1.1. Node's http2 server does not fall back to
// HTTP/1.1 without TLS, so each new connection is sniffed: if its first bytes
// are the HTTP/2 connection preface it goes to the HTTP/2 server, otherwise to
// the HTTP/1.1 server. The bytes read are put back before handing it over.
// With TLS, the port speaks TLS only, and ALPN (h2 or http/1.1) decides.
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import { ConnectionCaps, type ConnectionLimit } from "./connection-caps.js";
import { type AnswerState, RequestDeadlines } from "./request-deadlines.js";

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

export type RequestHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

export interface ListenerLimits {
  /** Largest request header block, in bytes (both protocols). */
  maxHeaderBytes: number;
  /** Concurrent streams per HTTP/2 connection. */
  maxConcurrentStreams: number;
  /** Idle keep-alive time for HTTP/1.1 connections (and HTTP/2 sessions, unless h2IdleTimeoutMs is given), in ms. */
  keepAliveTimeoutMs: number;
  /** Idle time of an HTTP/2 session with no open stream before it is closed, in ms. */
  h2IdleTimeoutMs?: number;
  /** Time allowed to receive a whole request's headers, in ms (slowloris guard). */
  headersTimeoutMs: number;
  /** Time allowed to receive a whole request, body included, on either protocol (a slowly trickled body is cut off). */
  requestTimeoutMs: number;
  /** Open connections allowed at once (0 or absent: no cap); more are closed when accepted. */
  maxConnections?: number;
  /** Open connections allowed at once from one client address (0 or absent: no cap). */
  maxConnectionsPerAddress?: number;
  /** Serve TLS (only) with this certificate chain and key, ALPN choosing HTTP/2 or HTTP/1.1. */
  tls?: TlsCredentials;
}

/** A PEM certificate chain and its private key. */
export interface TlsCredentials {
  cert: Buffer;
  key: Buffer;
}

/** A request answered before it became a call (no request id): refused by the transport or a route. */
export interface Refusal {
  /** The HTTP status it was answered with (408 for an HTTP/2 stream reset for being too slow). */
  status: number;
  httpVersion: "1.1" | "2";
  method: string | undefined;
  /** The request path without its query, or undefined where the request line was never read. */
  path: string | undefined;
  contentType: string | undefined;
  durationMs: number;
}

/** What the listener tells of the connections and requests it refuses. */
export interface ListenerEvents {
  onRefusal?(refusal: Refusal): void;
  onConnectionRefused?(limit: ConnectionLimit): void;
  /** A handler threw instead of answering (a bug): its request is reset. */
  onHandlerFailure?(err: unknown, req: http.IncomingMessage | http2.Http2ServerRequest): void;
}

export class Listener {
  readonly h1: http.Server;
  readonly h2: http2.Http2Server;
  private readonly tcp: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private inFlight = 0;
  private draining = false;
  private idleWaiters: Array<() => void> = [];
  private readonly deadlines = new WeakMap<net.Socket, RequestDeadlines>();

  private readonly caps: ConnectionCaps;
  private readonly tls: tls.Server | undefined;

  constructor(
    handler: RequestHandler,
    private readonly limits: ListenerLimits,
    private readonly events: ListenerEvents = {},
  ) {
    this.caps = new ConnectionCaps(limits.maxConnections ?? 0, limits.maxConnectionsPerAddress ?? 0);
    if (limits.tls) {
      this.tls = tls.createServer({
        ...limits.tls,
        ALPNProtocols: ["h2", "http/1.1"],
        handshakeTimeout: limits.headersTimeoutMs,
        minVersion: "TLSv1.2",
      });
      // A client that offers no ALPN (or http/1.1) speaks HTTP/1.1.
      this.tls.on("secureConnection", (socket: tls.TLSSocket) => this.handOver(socket, socket.alpnProtocol === "h2"));
      this.tls.on("tlsClientError", (_err, socket) => socket.destroy());
    }
    const counted: RequestHandler = (req, res) => {
      this.inFlight++;
      const started = performance.now();
      res.once("close", () => {
        this.inFlight--;
        if (this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
      });
      res.once("finish", () => this.reportIfRefused(req, res, started));
      if (req instanceof http2.Http2ServerRequest) {
        req.stream.once("finish", () => endHalfOpenStream(req));
        limitRequestTime(req, limits.requestTimeoutMs, () => this.refused(req, 408, started));
        // Node only advertises SETTINGS_MAX_HEADER_LIST_SIZE; a client may
        // ignore it. Enforce the same bound HTTP/1.1 has, before any handler.
        if (headerListSize(req.rawHeaders) > limits.maxHeaderBytes) {
          res.writeHead(431, { "content-type": "text/plain" });
          res.end("request header fields too large\n");
          return;
        }
      } else {
        const socket = req.socket;
        responses.set(req, res as http.ServerResponse);
        this.deadlines.get(socket)?.headersReceived(req, res as http.ServerResponse);
        res.once("finish", () => discardUnreadBody(req, socket));
      }
      // While draining, HTTP/1.1 clients are told not to reuse the connection.
      if (this.draining && res instanceof http.ServerResponse) res.setHeader("connection", "close");
      try {
        handler(req, res);
      } catch (err) {
        // A handler's own failure ends its request, never the process.
        this.events.onHandlerFailure?.(err, req);
        res.destroy();
      }
    };
    this.h1 = http.createServer(
      {
        maxHeaderSize: limits.maxHeaderBytes,
        keepAliveTimeout: limits.keepAliveTimeoutMs,
        headersTimeout: limits.headersTimeoutMs,
        requestTimeout: limits.requestTimeoutMs,
      },
      counted,
    );
    this.h2 = http2.createServer(
      {
        maxSessionMemory: 10,
        settings: {
          maxConcurrentStreams: limits.maxConcurrentStreams,
          maxHeaderListSize: limits.maxHeaderBytes,
        },
        maxHeaderListPairs: 128,
      },
      counted,
    );
    // Requests Node's parser refuses (headers too large, malformed) never reach a handler.
    // Expect: 100-continue: Node would invite the body at once. Invite it only
    // when a handler starts reading it, so a call refused on its headers (no
    // key, a declared size over the limit) is answered before the client sends
    // a byte of it. Node then closes that connection (it never said continue).
    this.h1.on("checkContinue", (req: http.IncomingMessage, res: http.ServerResponse) => {
      const invite = (event: string | symbol) => {
        if (event !== "data" && event !== "readable") return;
        req.off("newListener", invite);
        if (!res.headersSent) res.writeContinue();
      };
      req.on("newListener", invite);
      counted(req, res);
    });
    this.h1.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) =>
      this.clientError(err, socket as net.Socket),
    );
    this.h2.on("session", (session) => {
      this.sessions.add(session);
      session.once("close", () => this.sessions.delete(session));
      if (this.draining) session.close();
      closeWhenIdle(session, limits.h2IdleTimeoutMs ?? limits.keepAliveTimeoutMs);
    });
    this.tcp = net.createServer((socket) => this.accept(socket));
  }

  listen(port: number, host: string): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      this.tcp.once("error", reject);
      this.tcp.listen(port, host, () => {
        this.tcp.off("error", reject);
        resolve(this.tcp.address() as net.AddressInfo);
      });
    });
  }

  address(): net.AddressInfo | undefined {
    return (this.tcp.address() as net.AddressInfo | null) ?? undefined;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /**
   * Graceful stop: refuse new connections, let in-flight calls finish (HTTP/2
   * sessions get GOAWAY, idle HTTP/1.1 connections are closed), then close
   * everything. After graceMs, remaining connections are destroyed.
   */
  async close(graceMs: number): Promise<void> {
    this.draining = true;
    const closed = new Promise<void>((resolve) => this.tcp.close(() => resolve()));
    for (const session of this.sessions) session.close();
    this.h1.closeIdleConnections();
    const idle = new Promise<void>((resolve) => {
      if (this.inFlight === 0) resolve();
      else this.idleWaiters.push(resolve);
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([idle, timeout]);
    clearTimeout(timer);
    // Let the last responses flush before cutting connections.
    await new Promise((resolve) => setImmediate(resolve));
    for (const session of this.sessions) session.destroy();
    this.h1.closeAllConnections();
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /** A request answered with an error status and no request id never became a call: it is told of here. */
  private reportIfRefused(
    req: Parameters<RequestHandler>[0],
    res: Parameters<RequestHandler>[1],
    started: number,
  ): void {
    if (res.statusCode < 400 || res.statusCode >= 500 || res.getHeader("x-request-id") !== undefined) return;
    this.refused(req, res.statusCode, started);
  }

  private refused(req: Parameters<RequestHandler>[0] | undefined, status: number, started: number): void {
    const contentType = req?.headers["content-type"];
    this.events.onRefusal?.({
      status,
      httpVersion: req instanceof http2.Http2ServerRequest ? "2" : "1.1",
      method: req?.method,
      path: req?.url?.split("?", 1)[0],
      contentType: typeof contentType === "string" ? contentType : undefined,
      durationMs: performance.now() - started,
    });
  }

  /**
   * HTTP/1.1 requests the parser refuses: answered as Node would (431 for
   * headers over the limit, 400 for anything malformed), but with
   * Connection: close and a lingering close instead of a reset, and told of.
   */
  private clientError(err: NodeJS.ErrnoException, socket: net.Socket): void {
    if (err.code === "ECONNRESET" || !socket.writable) return void socket.destroy();
    const status = err.code === "HPE_HEADER_OVERFLOW" ? 431 : 400;
    const answering = (socket as { _httpMessage?: http.ServerResponse })._httpMessage;
    if (!answering?.headersSent) {
      const reason = http.STATUS_CODES[status];
      socket.write(`HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    }
    lingeringClose(socket);
    this.refused(undefined, status, performance.now());
  }

  /** Open connections (both protocols). */
  get connections(): number {
    return this.caps.connections;
  }

  /** Gives a connection (cleartext, or TLS once its handshake is done) to the server of its protocol. */
  private handOver(socket: net.Socket, isH2: boolean): void {
    if (isH2) return void this.h2.emit("connection", socket as Duplex);
    // Node ends a connection after an answer that says Connection: close
    // with destroySoon(): FIN, then destroy once it is flushed. A client
    // still sending (the body of a refused request) then gets a reset,
    // which can make it lose the answer. Close gracefully instead.
    socket.destroySoon = () => lingeringClose(socket);
    // Node's own request timeouts never apply to a server that does not listen itself.
    const deadlines = new RequestDeadlines(socket, this.limits, (late, answer, startedAt) => {
      missedDeadline(late, answer);
      if (answer === "none") this.refused(undefined, 408, startedAt);
    });
    this.deadlines.set(socket, deadlines);
    deadlines.begin();
    this.h1.emit("connection", socket as Duplex);
    // The HTTP/1.1 server reads with 'data' events, which a paused socket
    // never emits; the HTTP/2 session drains the buffer and reads natively.
    socket.resume();
  }

  /**
   * Swaps the TLS certificate and key: new connections get the new ones,
   * connections already open keep theirs and are not disturbed.
   */
  setTlsCredentials(credentials: TlsCredentials): void {
    if (!this.tls) throw new Error("this listener serves no TLS");
    this.tls.setSecureContext({ ...credentials });
  }

  private accept(socket: net.Socket): void {
    if (this.draining) return void socket.destroy();
    const address = socket.remoteAddress ?? "";
    const over = this.caps.admit(address);
    if (over !== undefined) {
      socket.destroy();
      this.events.onConnectionRefused?.(over);
      return;
    }
    this.sockets.add(socket);
    socket.once("close", () => {
      this.sockets.delete(socket);
      this.caps.release(address);
    });
    socket.on("error", () => socket.destroy());
    if (this.tls) {
      // The handshake gets the time headers get; ALPN then picks the protocol.
      this.tls.emit("connection", socket);
      return;
    }
    // A connection that sends nothing is dropped instead of held open forever.
    socket.setTimeout(this.limits.headersTimeoutMs, () => socket.destroy());
    let seen = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, H2_PREFACE.length);
      const isH2 = seen.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      if (isH2 && seen.length < H2_PREFACE.length) return; // need more bytes to decide
      socket.off("data", onData);
      socket.setTimeout(0);
      socket.pause();
      socket.unshift(seen);
      this.handOver(socket, isH2);
    };
    socket.on("data", onData);
  }
}

const abandoned = new WeakSet<object>();
/** The answer of each HTTP/1.1 request in progress. */
const responses = new WeakMap<object, http.ServerResponse>();

/** How much of an abandoned request body is read and thrown away; past it, the connection (HTTP/1.1) or the stream (HTTP/2) is dropped. */
const DISCARD_MAX_BYTES = 1024 * 1024;

/**
 * Marks a request whose body will not be read (any further), before it is
 * answered. On HTTP/1.1, once answered, the rest is thrown away and the
 * connection serves the next request, when the rest is known to be short
 * (a declared length within DISCARD_MAX_BYTES). Otherwise (longer, or
 * chunked with no length) the answer says Connection: close and the
 * connection is then closed gracefully: a keep-alive client must never be
 * told it may reuse a connection the server is about to end.
 */
export function abandonBody(req: object): void {
  abandoned.add(req);
  if (req instanceof http2.Http2ServerRequest) {
    discardH2Body(req);
    return;
  }
  const res = responses.get(req);
  const message = req as http.IncomingMessage;
  if (!res || res.headersSent || message.complete) return;
  const declared = Number(message.headers["content-length"] ?? Number.NaN);
  if (message.destroyed || !(declared <= DISCARD_MAX_BYTES)) res.setHeader("connection", "close");
}
/** How long a dropped connection stays half-open for the client to read its answer. */
const LINGER_MS = 2000;

/**
 * HTTP/1.1: an answer may be sent before the request body was read to its end
 * (a gRPC-Web call whose first message cannot be decoded, a body over the
 * size limit, a call refused on its key before its body). When the reader
 * abandoned it (abandonBody), reading stays paused and the connection never
 * gets to its next request: a keep-alive client that reuses it hangs until
 * the connection is reset. Throw the rest of the body away the way Node does
 * for a request no handler read (_dump), which restarts the reads the parser
 * stopped; resuming the socket itself does not (the parser reads the
 * connection natively), and drop the connection if the client sends more
 * than a bound. (A body nobody touched Node throws away itself.)
 */
function discardUnreadBody(req: http.IncomingMessage, socket: net.Socket): void {
  if (req.complete || socket.destroyed || !abandoned.has(req)) return;
  // A destroyed request gets no more of its body: its answer said
  // Connection: close (abandonBody), and Node closes the connection.
  if (req.destroyed) return;
  // Node's own _dump (done already, for a body no handler touched) reads the
  // rest through the request: count what passes, and stop past the bound.
  (req as unknown as { _dump(): void })._dump();
  let discarded = 0;
  const count = (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > DISCARD_MAX_BYTES) {
      req.off("data", count);
      lingeringClose(socket);
    }
  };
  req.on("data", count);
}

/** HTTP/2 request bodies being thrown away, and whether they have passed DISCARD_MAX_BYTES. */
const discarding = new WeakMap<http2.Http2ServerRequest, { over: boolean }>();

/**
 * HTTP/2: an answer may be sent before the request body was read to its end
 * (a call refused on its key, a message over the size limit). From the
 * moment the body is abandoned, the rest of it is read and thrown away (never
 * held), as on HTTP/1.1, up to DISCARD_MAX_BYTES; the stream then ends as any
 * other once the client has sent it all. Past the bound (declared or found)
 * reading stops, and the stream is reset once its answer is out
 * (endHalfOpenStream).
 *
 * Resetting every such stream after its answer (RST_STREAM NO_ERROR, which
 * RFC 9113 8.1 allows) cost more than the stream with Node's own http2
 * client: it keeps the unsent rest of a reset stream's body counted against
 * its session memory for good, and once 10 MiB of them have added up (its
 * default maxSessionMemory; fifty refused 200 kB bodies) it refuses the
 * headers of every later answer on the session, a keyed call's included, with
 * RST_STREAM(ENHANCE_YOUR_CALM). nghttp2's own clients (h2load, nghttp) and
 * curl were not affected; with the body read to its end no client is.
 */
function discardH2Body(req: http2.Http2ServerRequest): void {
  if (req.complete || req.stream.destroyed || discarding.has(req)) return;
  const state = { over: false };
  discarding.set(req, state);
  const declared = Number(req.headers["content-length"] ?? Number.NaN);
  // A request a reader has destroyed (Connect stops reading a message over
  // its size limit that way) passes nothing more on: reset it instead.
  if (declared > DISCARD_MAX_BYTES || req.destroyed) {
    state.over = true;
    return;
  }
  let discarded = 0;
  const count = (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded <= DISCARD_MAX_BYTES) return;
    state.over = true;
    req.off("data", count);
    req.pause();
    // Answered already: stop the client now; otherwise once the answer is out.
    if (req.stream.state.localClose) resetStream(req.stream);
  };
  req.on("data", count);
  req.resume();
}

/**
 * An HTTP/2 request answered with its body not read to the end: a body being
 * thrown away (discardH2Body) is left to finish; any other (never abandoned,
 * or past the bound) gets RST_STREAM(NO_ERROR) once the answer is out, so the
 * client stops sending, and the stream does not stay open (holding up a
 * graceful shutdown) once the client's flow-control window is full.
 */
function endHalfOpenStream(req: http2.Http2ServerRequest): void {
  if (req.complete) return;
  const stream = req.stream;
  // The writable side finishing does not mean the trailers went out yet; a
  // reset sent before them would lose the status. Wait (a few ticks) until
  // the stream's own side is closed, i.e. END_STREAM was sent.
  let ticks = 0;
  const check = () => {
    if (stream.destroyed || stream.closed || req.complete) return;
    if (stream.state.localClose || ++ticks > 1000) {
      const discard = discarding.get(req);
      if (discard === undefined || discard.over) resetStream(stream);
    } else setImmediate(check);
  };
  setImmediate(check);
}

/** Tells the client to stop sending a body nobody reads (RST_STREAM NO_ERROR), and frees the stream. */
function resetStream(stream: http2.ServerHttp2Stream): void {
  if (stream.destroyed) return;
  stream.close(http2.constants.NGHTTP2_NO_ERROR);
  // Closing is not enough: the unread request bytes stay paused in the
  // stream's buffer, so it never ends and Node never destroys it. It would
  // stay counted as in flight (every shutdown then waits the whole
  // SHUTDOWN_TIMEOUT_SECONDS) and keep its memory. The reset is sent.
  setImmediate(() => stream.destroy());
}

/**
 * Drops a connection whose client keeps sending after its answer, the way
 * web servers do a lingering close: stop reading, send FIN, and destroy the
 * socket only after a grace period. Destroying at once, with the client's
 * bytes unread, makes the kernel send a reset, and a client still writing
 * its body then loses the answer it was sent (the refusal saying why).
 */
function lingeringClose(socket: net.Socket, reader?: (chunk: Buffer) => void): void {
  if (reader) socket.off("data", reader);
  socket.pause();
  socket.end();
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

const REQUEST_TIMEOUT_ANSWER =
  "HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: 16\r\n\r\nrequest timeout\n";

/**
 * An HTTP/1.1 request that did not arrive in time: answered 408, then the
 * connection is closed gracefully. Reading stops first, so nothing more of it
 * reaches a handler; an answer a handler writes later is never sent. A
 * request already answered in full (refused before its body was read, the
 * rest being thrown away) gets the 408 too: its answer let the client keep
 * the connection, so a close with no word would look like a network fault.
 * Only an answer being sent cannot be followed by one.
 */
function missedDeadline(socket: net.Socket, answer: AnswerState): void {
  socket.pause();
  if (answer !== "sending" && socket.writable) socket.write(REQUEST_TIMEOUT_ANSWER);
  lingeringClose(socket);
}

/**
 * HTTP/2 has no request timeout of its own in Node: a stream whose request
 * never finishes (a body trickled or never sent) would hold its memory and a
 * place among the connection's streams for ever. Reset it once the time a
 * whole HTTP/1.1 request gets has passed without the request ending.
 */
function limitRequestTime(req: http2.Http2ServerRequest, timeoutMs: number, onReset: () => void): void {
  const timer = setTimeout(() => {
    if (req.complete || req.stream.destroyed) return;
    // Answered already, its body still being thrown away (discardH2Body): no 408 to tell of.
    if (req.stream.state.localClose) {
      resetStream(req.stream);
      return;
    }
    req.stream.close(http2.constants.NGHTTP2_CANCEL);
    onReset();
  }, timeoutMs);
  timer.unref();
  const clear = () => clearTimeout(timer);
  req.once("end", clear);
  req.stream.once("close", clear);
}

/**
 * Nor does an HTTP/2 session time out: an idle connection would stay open for
 * ever. Close one that has had no frame for timeoutMs and no open stream (a
 * quiet health Watch is an open stream and keeps its connection).
 */
function closeWhenIdle(session: http2.ServerHttp2Session, timeoutMs: number): void {
  let open = 0;
  session.on("stream", (stream: http2.ServerHttp2Stream) => {
    open++;
    stream.once("close", () => open--);
  });
  session.setTimeout(timeoutMs, () => {
    if (open === 0) session.close();
  });
}

/**
 * A header list's size as HTTP/2 counts it (RFC 9113 6.5.2): each field's
 * name and value in octets, plus 32.
 */
function headerListSize(rawHeaders: string[]): number {
  let size = 0;
  for (const field of rawHeaders) size += Buffer.byteLength(field);
  return size + 16 * rawHeaders.length;
}
