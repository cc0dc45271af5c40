// A real HTTP endpoint for webhook tests: verifies every delivery's signature
// with the standardwebhooks package (as a receiver would), records what
// arrived, and answers as the test says (up, down with a status, or hanging
// up before answering).
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";

export interface Received {
  id: string;
  timestamp: string;
  /** The verified payload. */
  payload: {
    type: string;
    timestamp: string;
    data: { id: string; user_id: string; namespace: string; data: Record<string, unknown> };
  };
  raw: string;
}

export class Receiver {
  readonly received: Received[] = [];
  /** Requests whose signature failed to verify (must stay empty). */
  readonly forged: string[] = [];
  /** Every request, answered or not. */
  requests = 0;
  /** What to answer: a status, or "hang-up" to destroy the socket. */
  answer: number | "hang-up" | ((n: number) => number | "hang-up") = 204;
  secret = "";
  /** How long it takes to answer (after recording a delivery). */
  delayMs = 0;
  private server: http.Server | undefined;

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const n = ++this.requests;
        const answer = typeof this.answer === "function" ? this.answer(n) : this.answer;
        if (answer === "hang-up") {
          req.socket.destroy();
          return;
        }
        if (answer >= 200 && answer < 300) {
          const raw = Buffer.concat(chunks).toString("utf8");
          const headers = {
            "webhook-id": String(req.headers["webhook-id"] ?? ""),
            "webhook-timestamp": String(req.headers["webhook-timestamp"] ?? ""),
            "webhook-signature": String(req.headers["webhook-signature"] ?? ""),
          };
          try {
            const payload = new Webhook(this.secret).verify(raw, headers) as Received["payload"];
            this.received.push({ id: headers["webhook-id"], timestamp: headers["webhook-timestamp"], payload, raw });
          } catch {
            this.forged.push(raw);
            res.writeHead(400).end();
            return;
          }
        }
        setTimeout(() => res.writeHead(answer).end(), this.delayMs);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks`;
  }

  /** Deliveries received of one user, in arrival order, duplicates (same webhook-id) removed. */
  ofUser(userId: string): Received[] {
    const seen = new Set<string>();
    return this.received.filter((r) => r.payload.data.user_id === userId && !seen.has(r.id) && seen.add(r.id));
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Calls a WebhooksService RPC with Connect JSON. */
export async function webhooksRpc(
  baseUrl: string,
  method: string,
  body: Record<string, unknown>,
  key: string,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${baseUrl}/users.v1.WebhooksService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}
