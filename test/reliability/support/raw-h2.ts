// A bare HTTP/2 connection that writes frames by hand. Node's own client obeys
// the server's limits (it queues streams beyond SETTINGS_MAX_CONCURRENT_STREAMS
// and refuses oversized header lists itself), so to see what the server does
// when a client breaks them, the client must not be Node's. Headers are
// HPACK-encoded as literals without indexing (no Huffman), which every decoder
// accepts; answers are read only as far as frame type, stream and error code.
import net from "node:net";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
export const FRAME = {
  DATA: 0,
  HEADERS: 1,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
  CONTINUATION: 9,
} as const;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const ACK = 0x1;
/** Largest frame payload a peer must accept before any SETTINGS say otherwise. */
const MAX_FRAME = 16384;

export interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

export class RawH2 {
  readonly frames: Frame[] = [];
  private buffered = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private ended = false;

  private constructor(private readonly socket: net.Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      while (this.buffered.length >= 9) {
        const length = this.buffered.readUIntBE(0, 3);
        if (this.buffered.length < 9 + length) break;
        const frame: Frame = {
          type: this.buffered.readUInt8(3),
          flags: this.buffered.readUInt8(4),
          stream: this.buffered.readUInt32BE(5) & 0x7fffffff,
          payload: this.buffered.subarray(9, 9 + length),
        };
        this.buffered = this.buffered.subarray(9 + length);
        this.frames.push(frame);
        // Acknowledge the server's settings, as any client must.
        if (frame.type === FRAME.SETTINGS && !(frame.flags & ACK)) this.write(FRAME.SETTINGS, ACK, 0, Buffer.alloc(0));
      }
      this.wake();
    });
    const end = () => {
      this.ended = true;
      this.wake();
    };
    socket.on("close", end);
    socket.on("error", end);
  }

  /** Connects, sends the preface and empty SETTINGS, and waits for the server's SETTINGS. */
  static async connect(port: number): Promise<RawH2> {
    const socket = net.connect(port, "127.0.0.1");
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    const h2 = new RawH2(socket);
    socket.write(PREFACE);
    h2.write(FRAME.SETTINGS, 0, 0, Buffer.alloc(0));
    await h2.until((frames) => frames.some((f) => f.type === FRAME.SETTINGS && !(f.flags & ACK)));
    return h2;
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Sends a request's headers on `stream` (odd numbers, increasing), split into CONTINUATION frames as needed. */
  headers(stream: number, headers: Array<[string, string]>, endStream: boolean): void {
    const block = encodeHeaderBlock(headers);
    const first = block.subarray(0, MAX_FRAME);
    const more = block.length > MAX_FRAME;
    this.write(FRAME.HEADERS, (endStream ? END_STREAM : 0) | (more ? 0 : END_HEADERS), stream, first);
    for (let offset = MAX_FRAME; offset < block.length; offset += MAX_FRAME) {
      const last = offset + MAX_FRAME >= block.length;
      this.write(FRAME.CONTINUATION, last ? END_HEADERS : 0, stream, block.subarray(offset, offset + MAX_FRAME));
    }
  }

  data(stream: number, payload: Buffer, endStream: boolean): void {
    this.write(FRAME.DATA, endStream ? END_STREAM : 0, stream, payload);
  }

  /** Resolves once the frames received so far satisfy `done`, or the connection has ended. */
  async until(done: (frames: Frame[]) => boolean): Promise<void> {
    while (!done(this.frames) && !this.ended) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** RST_STREAM error codes received, by stream. */
  resets(): Map<number, number> {
    return new Map(
      this.frames.filter((f) => f.type === FRAME.RST_STREAM).map((f) => [f.stream, f.payload.readUInt32BE(0)]),
    );
  }

  /** The GOAWAY received, if any: the last stream the server processed and the error code. */
  goaway(): { lastStream: number; code: number } | undefined {
    const f = this.frames.find((frame) => frame.type === FRAME.GOAWAY);
    return f && { lastStream: f.payload.readUInt32BE(0) & 0x7fffffff, code: f.payload.readUInt32BE(4) };
  }

  close(): void {
    this.socket.destroy();
  }

  private write(type: number, flags: number, stream: number, payload: Buffer): void {
    if (this.ended) return;
    const head = Buffer.alloc(9);
    head.writeUIntBE(payload.length, 0, 3);
    head.writeUInt8(type, 3);
    head.writeUInt8(flags, 4);
    head.writeUInt32BE(stream, 5);
    this.socket.write(Buffer.concat([head, payload]));
  }

  private wake(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }
}

/** HPACK: each header as "literal without indexing, new name", plain strings. */
function encodeHeaderBlock(headers: Array<[string, string]>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of headers) {
    parts.push(Buffer.from([0x00]), hpackString(name), hpackString(value));
  }
  return Buffer.concat(parts);
}

function hpackString(text: string): Buffer {
  const bytes = Buffer.from(text, "latin1");
  return Buffer.concat([hpackInteger(bytes.length, 7), bytes]);
}

/** An HPACK integer with an N-bit prefix (the Huffman bit, left as 0, sits above it). */
function hpackInteger(value: number, prefixBits: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([value]);
  const out = [max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return Buffer.from(out);
}

/** The headers of a gRPC request to a Users RPC. */
export function grpcRequestHeaders(method: string, extra: Array<[string, string]> = []): Array<[string, string]> {
  return [
    [":method", "POST"],
    [":scheme", "http"],
    [":authority", "127.0.0.1"],
    [":path", `/users.v1.Users/${method}`],
    ["content-type", "application/grpc+proto"],
    ["te", "trailers"],
    ...extra,
  ];
}
