// A small web app on another origin, as a customer would write it: the
// generated client with connect-web, calling Login then ReadSession. Bundled
// by esbuild for the cross-origin browser tests; the test drives it through
// the functions it puts on `window`.
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { Users } from "../../../gen/users/v1/users_pb.js";

export interface Plan {
  baseUrl: string;
  protocol: "connect" | "grpc-web";
  key: string;
  username: string;
  password: string;
}

export type Outcome =
  | { ok: true; sessionId: string; userId: string; username: string; requestId: string }
  | { ok: false; code: string; message: string };

async function loginAndReadSession(plan: Plan): Promise<Outcome> {
  const transport: Transport =
    plan.protocol === "connect"
      ? createConnectTransport({ baseUrl: plan.baseUrl })
      : createGrpcWebTransport({ baseUrl: plan.baseUrl });
  const client = createClient(Users, transport);
  const headers = { authorization: `Bearer ${plan.key}` };
  try {
    // A response header a script can read only when the server exposes it (CORS).
    let requestId = "";
    const onHeader = (header: Headers) => {
      requestId = header.get("x-request-id") ?? "";
    };
    const { session } = await client.login({ username: plan.username, password: plan.password }, { headers, onHeader });
    const read = await client.readSession({ sessionId: session?.id ?? "" }, { headers });
    const s = read.session;
    return { ok: true, sessionId: s?.id ?? "", userId: s?.userId ?? "", username: s?.username ?? "", requestId };
  } catch (err) {
    const error = ConnectError.from(err);
    return { ok: false, code: Code[error.code], message: error.rawMessage };
  }
}

/** The M3O path, the way M3O's JS client calls it: POST /v1/users/Login with JSON. */
async function m3oLogin(
  plan: Omit<Plan, "protocol">,
): Promise<{ status: number; body: unknown; requestId: string | null } | { error: string }> {
  try {
    const res = await fetch(`${plan.baseUrl}/v1/users/Login`, {
      method: "POST",
      headers: { authorization: `Bearer ${plan.key}`, "content-type": "application/json" },
      body: JSON.stringify({ username: plan.username, password: plan.password }),
    });
    return { status: res.status, body: await res.json(), requestId: res.headers.get("x-request-id") };
  } catch (err) {
    return { error: String(err) };
  }
}

/**
 * What a page holding a public key does: sign in, then read its own account
 * with the session as proof (x-session-id, a non-safelisted header the
 * preflight must allow), and see Search refused.
 */
async function publicOwnAccount(plan: Plan): Promise<{ username: string; search: string } | { error: string }> {
  const transport: Transport =
    plan.protocol === "connect"
      ? createConnectTransport({ baseUrl: plan.baseUrl })
      : createGrpcWebTransport({ baseUrl: plan.baseUrl });
  const client = createClient(Users, transport);
  const headers = { authorization: `Bearer ${plan.key}` };
  try {
    const { session } = await client.login({ username: plan.username, password: plan.password }, { headers });
    const own = { headers: { ...headers, "x-session-id": session?.id ?? "" } };
    const { user } = await client.read({ id: session?.userId ?? "" }, own);
    const search = await client.search({}, { headers }).then(
      () => "allowed",
      (err: unknown) => Code[ConnectError.from(err).code],
    );
    return { username: user?.username ?? "", search };
  } catch (err) {
    const error = ConnectError.from(err);
    return { error: `${Code[error.code]}: ${error.rawMessage}` };
  }
}

Object.assign(globalThis, { loginAndReadSession, m3oLogin, publicOwnAccount });
