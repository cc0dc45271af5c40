// Floor (c): a bare node:http handler doing ReadSession's SQLite lookup by
// hashed session id, on the service's own database file: read the JSON body,
// SHA-256 the session id, run the same query as the service, answer the same
// JSON. No framework, no authentication, no validation, no logging.
import { createHash } from "node:crypto";
import http from "node:http";
import Database from "better-sqlite3";
import { listenOn } from "./listen-on.js";

interface SessionRecord {
  user_id: string;
  username: string;
  email: string;
  created_ms: number;
  expires_ms: number;
}

const db = new Database(process.env.FLOOR_SQLITE_PATH!);
const namespace = process.env.FLOOR_NAMESPACE!;
const getSession = db.prepare(
  `SELECT s.user_id, u.username, u.email, s.created_ms, s.expires_ms
   FROM sessions s JOIN users u ON u.namespace = s.namespace AND u.id = s.user_id
   WHERE s.id_digest = ? AND s.namespace = ? AND s.expires_ms > ?`,
);

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    const { sessionId } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { sessionId: string };
    const digest = createHash("sha256").update(sessionId, "utf8").digest();
    const row = getSession.get(digest, namespace, Date.now()) as SessionRecord | undefined;
    if (!row) {
      res
        .writeHead(404, { "content-type": "application/json" })
        .end('{"code":"not_found","message":"session: not found"}');
      return;
    }
    const body = JSON.stringify({
      session: {
        id: sessionId,
        userId: row.user_id,
        username: row.username,
        email: row.email,
        created: String(Math.floor(row.created_ms / 1000)),
        expires: String(Math.floor(row.expires_ms / 1000)),
      },
    });
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body);
  });
});
await listenOn(server, Number(process.env.FLOOR_PORT));
// Exit normally on SIGTERM, so that --cpu-prof writes its profile.
process.once("SIGTERM", () => process.exit(0));
process.stdout.write("ready\n");
