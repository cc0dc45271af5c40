// A small web app that uses passkeys, as a customer would write it: the
// generated client over connect-web for our RPCs, @simplewebauthn/browser for
// navigator.credentials. Bundled by esbuild for the passkey browser tests,
// which drive it through the functions it puts on `window`.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { startAuthentication, startRegistration } from "@simplewebauthn/browser";
import { Users } from "../../../gen/users/v1/users_pb.js";

export interface Plan {
  baseUrl: string;
  key: string;
  /** x-session-id: a public key's proof of the user (registration). */
  sessionId?: string;
  userId?: string;
  name?: string;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; code: string; message: string };

/** The code's name as the wire tests spell it ("permission_denied"). */
function codeName(code: Code): string {
  return Code[code].replace(/[A-Z]/g, (c, at: number) => (at === 0 ? c.toLowerCase() : `_${c.toLowerCase()}`));
}

function client(plan: Plan) {
  return createClient(Users, createConnectTransport({ baseUrl: plan.baseUrl }));
}

function headers(plan: Plan): Record<string, string> {
  return {
    authorization: `Bearer ${plan.key}`,
    ...(plan.sessionId ? { "x-session-id": plan.sessionId } : {}),
  };
}

async function outcome<T>(work: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await work() };
  } catch (err) {
    if (err instanceof ConnectError) return { ok: false, code: codeName(err.code), message: err.rawMessage };
    return { ok: false, code: "browser", message: String((err as Error)?.message ?? err) };
  }
}

/** Begin, navigator.credentials.create(), Finish: the registered passkey's id. */
function registerPasskey(plan: Plan): Promise<Outcome<string>> {
  return outcome(async () => {
    const users = client(plan);
    const begin = await users.beginPasskeyRegistration({ userId: plan.userId ?? "" }, { headers: headers(plan) });
    const response = await startRegistration({ optionsJSON: JSON.parse(begin.optionsJson) });
    const finish = await users.finishPasskeyRegistration(
      { userId: plan.userId ?? "", responseJson: JSON.stringify(response), name: plan.name ?? "" },
      { headers: headers(plan) },
    );
    return finish.passkey?.id ?? "";
  });
}

/** Begin, navigator.credentials.get() (no user named), Finish: the session. */
function signInWithPasskey(plan: Plan): Promise<Outcome<{ sessionId: string; userId: string; username: string }>> {
  return outcome(async () => {
    const users = client(plan);
    const begin = await users.beginPasskeyLogin({}, { headers: headers(plan) });
    const response = await startAuthentication({ optionsJSON: JSON.parse(begin.optionsJson) });
    const finish = await users.finishPasskeyLogin(
      { handle: begin.handle, responseJson: JSON.stringify(response) },
      { headers: headers(plan) },
    );
    const s = finish.session;
    return { sessionId: s?.id ?? "", userId: s?.userId ?? "", username: s?.username ?? "" };
  });
}

/** navigator.credentials.create() alone, for options a test got itself: the answer as JSON. */
function createCredential(optionsJson: string): Promise<Outcome<string>> {
  return outcome(async () => JSON.stringify(await startRegistration({ optionsJSON: JSON.parse(optionsJson) })));
}

/** navigator.credentials.get() alone: the assertion as JSON. */
function getAssertion(optionsJson: string): Promise<Outcome<string>> {
  return outcome(async () => JSON.stringify(await startAuthentication({ optionsJSON: JSON.parse(optionsJson) })));
}

Object.assign(globalThis, { registerPasskey, signInWithPasskey, createCredential, getAssertion });
