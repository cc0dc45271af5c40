// TLS on the one port (TLS_CERT_FILE, TLS_KEY_FILE), with certificates made
// here by openssl: ALPN picks HTTP/2 or HTTP/1.1, and gRPC (grpc-js),
// gRPC-Web, Connect (HTTP/1.1 and HTTP/2) and the M3O paths all work over it;
// cleartext is not served. A new certificate is taken by new connections on
// reload (SIGHUP for the process), while connections already open keep
// serving.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import https from "node:https";
import net from "node:net";
import path from "node:path";
import tls from "node:tls";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport, Http2SessionManager } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { Users } from "../../gen/users/v1/users_pb.js";
import { type ServerProcess, startServerProcess } from "../reliability/support/server-process.js";
import { ENGINES, freshDatabaseUrl, tempDir } from "../support/databases.js";
import { grpcClientCtor, unary } from "../support/grpc-clients.js";
import { startTestServer, type TestServer } from "../support/server.js";

/** A self-signed certificate for 127.0.0.1 and localhost, written to cert.pem and key.pem in `dir`. */
function makeCertificate(dir: string, name: string): { cert: Buffer; key: Buffer } {
  const certFile = path.join(dir, "cert.pem");
  const keyFile = path.join(dir, "key.pem");
  execFileSync(
    "openssl",
    [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
      ...["-keyout", `${keyFile}.new`, "-out", `${certFile}.new`, "-days", "1", "-subj", `/CN=${name}`],
      ...["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
    ],
    { stdio: "ignore" },
  );
  // Replaced whole, as a deploy tool would.
  fs.renameSync(`${keyFile}.new`, keyFile);
  fs.renameSync(`${certFile}.new`, certFile);
  return { cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) };
}

/** Opens a TLS connection offering `alpn`; the protocol chosen and the certificate's CN. */
function handshake(port: number, ca: Buffer, alpn: string[]): Promise<{ protocol: string | false; cn: string }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ port, host: "127.0.0.1", ca, ALPNProtocols: alpn }, () => {
      const cn = String(socket.getPeerCertificate().subject.CN);
      resolve({ protocol: socket.alpnProtocol ?? false, cn });
      socket.destroy();
    });
    socket.on("error", reject);
  });
}

function m3oSearch(url: string, ca: Buffer, key: string, agent?: https.Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${url}/users/Users/Search`,
      { method: "POST", ca, agent, headers: { authorization: `Bearer ${key}`, "content-type": "application/json" } },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end("{}");
  });
}

describe.each(ENGINES)("TLS (%s)", (engine) => {
  let dir: string;
  let ca: Buffer;
  let s: TestServer;
  let url: string;
  beforeAll(async () => {
    dir = tempDir("users-tls-");
    ca = makeCertificate(dir, "first").cert;
    s = await startTestServer({
      engine,
      env: { TLS_CERT_FILE: path.join(dir, "cert.pem"), TLS_KEY_FILE: path.join(dir, "key.pem") },
    });
    url = `https://127.0.0.1:${s.port}`;
  });
  afterAll(() => s.close());

  test("ALPN: h2 when offered, else http/1.1 (and HTTP/1.1 for a client that offers none)", async () => {
    expect((await handshake(s.port, ca, ["h2", "http/1.1"])).protocol).toBe("h2");
    expect((await handshake(s.port, ca, ["http/1.1"])).protocol).toBe("http/1.1");
    expect(await m3oSearch(url, ca, s.adminKey)).toBe(200);
  });

  test("gRPC with grpc-js over TLS", async () => {
    const Client = grpcClientCtor("users/v1/users.proto", "users.v1.Users");
    const client = new Client(`127.0.0.1:${s.port}`, grpc.credentials.createSsl(ca));
    try {
      const metadata = new grpc.Metadata();
      metadata.set("authorization", `Bearer ${s.adminKey}`);
      const created = await unary<{ user: { username: string } }>(
        client,
        "Create",
        { username: "tls-grpc", email: "tls-grpc@example.com", password: "password1" },
        metadata,
      );
      expect(created.user.username).toBe("tls-grpc");
    } finally {
      client.close();
    }
  });

  test.each([
    ["Connect, HTTP/2", "connect", "2"],
    ["Connect, HTTP/1.1", "connect", "1.1"],
    ["gRPC-Web, HTTP/1.1", "grpc-web", "1.1"],
    ["gRPC-Web, HTTP/2", "grpc-web", "2"],
  ] as const)("%s over TLS", async (_name, protocol, httpVersion) => {
    const sessions = httpVersion === "2" ? new Http2SessionManager(url, undefined, { ca }) : undefined;
    const options = {
      baseUrl: url,
      httpVersion,
      nodeOptions: { ca },
      ...(sessions ? { sessionManager: sessions } : {}),
    } as Parameters<typeof createConnectTransport>[0];
    const transport = protocol === "connect" ? createConnectTransport(options) : createGrpcWebTransport(options);
    try {
      const users = createClient(Users, transport);
      const found = await users.search({ username: "" }, { headers: { authorization: `Bearer ${s.adminKey}` } });
      expect(Array.isArray(found.users)).toBe(true);
    } finally {
      sessions?.abort();
    }
  });

  test("cleartext is not served on the TLS port", async () => {
    const socket = net.connect(s.port, "127.0.0.1");
    let text = "";
    socket.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
    socket.on("error", () => undefined);
    socket.write("POST /users/Users/Search HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}");
    await new Promise((resolve) => socket.on("close", resolve));
    expect(text).not.toMatch(/^HTTP\/1\.1/);
  });

  test("reload: new connections get the new certificate; an open HTTP/1.1 and HTTP/2 connection keeps serving", async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    const sessions = new Http2SessionManager(url, undefined, { ca });
    const connect = createClient(
      Users,
      createConnectTransport({ baseUrl: url, httpVersion: "2", sessionManager: sessions }),
    );
    const headers = { authorization: `Bearer ${s.adminKey}` };
    try {
      expect(await m3oSearch(url, ca, s.adminKey, agent)).toBe(200);
      await connect.search({}, { headers });
      const second = makeCertificate(dir, "second").cert;
      await s.server.reloadTls();
      expect((await handshake(s.port, second, ["h2"])).cn).toBe("second");
      // The connections opened under the first certificate are still served.
      expect(await m3oSearch(url, ca, s.adminKey, agent)).toBe(200);
      await connect.search({}, { headers });
      ca = second;
    } finally {
      sessions.abort();
      agent.destroy();
    }
  });
});

describe("TLS reload on SIGHUP (server process)", () => {
  let server: ServerProcess;
  let dir: string;
  beforeAll(async () => {
    dir = tempDir("users-tls-");
    makeCertificate(dir, "first");
    server = await startServerProcess({
      DATABASE_URL: await freshDatabaseUrl("sqlite"),
      USERS_BOOTSTRAP_KEY: `tls-sighup-admin-${"k".repeat(24)}`,
      TLS_CERT_FILE: path.join(dir, "cert.pem"),
      TLS_KEY_FILE: path.join(dir, "key.pem"),
    });
  });
  afterAll(async () => {
    expect(await server.stop()).toEqual({ code: 0, signal: null });
  });

  test("SIGHUP swaps the certificate for new connections; an open one keeps serving; a bad file keeps the old", async () => {
    const first = fs.readFileSync(path.join(dir, "cert.pem"));
    const url = `https://127.0.0.1:${server.port}`;
    const key = `tls-sighup-admin-${"k".repeat(24)}`;
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect(await m3oSearch(url, first, key, agent)).toBe(200);
      const second = makeCertificate(dir, "second").cert;
      server.child.kill("SIGHUP");
      let cn = "";
      for (let i = 0; i < 100 && cn !== "second"; i++) {
        cn = (await handshake(server.port, cn === "" ? first : second, ["h2"]).catch(() => ({ cn: "first" }))).cn;
        if (cn !== "second") await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(cn).toBe("second");
      expect(await m3oSearch(url, first, key, agent)).toBe(200);

      fs.writeFileSync(path.join(dir, "key.pem"), "not a key");
      server.child.kill("SIGHUP");
      for (let i = 0; i < 100 && !server.output().includes("TLS reload failed"); i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(server.output()).toContain("TLS reload failed");
      expect((await handshake(server.port, second, ["http/1.1"])).cn).toBe("second");
    } finally {
      agent.destroy();
    }
  });
});
