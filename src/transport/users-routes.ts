// The Users service as Connect handlers: each RPC takes the caller's
// namespace (and, for a write, its actor) from the call context, calls the
// protocol-free service layer and
// converts its result to the generated message types. Nothing here knows
// about sockets or HTTP.
import type { ConnectRouter, HandlerContext, Interceptor } from "@connectrpc/connect";
import type { Event as EventMessage } from "../../gen/users/v1/events_pb.js";
import { type Session as SessionMessage, type User as UserMessage, Users } from "../../gen/users/v1/users_pb.js";
import type { AccessTokensService } from "../service/access-tokens.js";
import type { AuditService } from "../service/audit.js";
import type { MagicLinkService } from "../service/magic-link.js";
import type { MfaService } from "../service/mfa.js";
import type { Session, User } from "../service/model.js";
import type { PasskeysService } from "../service/passkeys.js";
import type { PasswordResetService } from "../service/password-reset.js";
import type { PasswordsService } from "../service/passwords.js";
import type { SessionsService } from "../service/sessions.js";
import type { UsersService } from "../service/users.js";
import type { VerificationService } from "../service/verification.js";
import type { StoredEvent } from "../storage/events.js";
import { actorOf, callerKey } from "./call-context.js";
import { mfaHandlers } from "./mfa-routes.js";
import { passkeyHandlers } from "./passkeys-routes.js";
import { tokenHandlers } from "./token-routes.js";
import { unixSeconds } from "./unix-seconds.js";

export interface UsersServices {
  users: UsersService;
  sessions: SessionsService;
  passwords: PasswordsService;
  verification: VerificationService;
  mfa: MfaService;
  audit: AuditService;
  passkeys: PasskeysService;
  passwordReset: PasswordResetService;
  magicLinks: MagicLinkService;
  accessTokens: AccessTokensService;
}

type UserInit = Omit<UserMessage, "$typeName">;
type SessionInit = Omit<SessionMessage, "$typeName">;
type EventInit = Omit<EventMessage, "$typeName">;

export function registerUsers(router: ConnectRouter, services: UsersServices, interceptors: Interceptor[]): void {
  const { users, sessions, passwords, verification, passwordReset, magicLinks, mfa, audit } = services;
  router.service(
    Users,
    {
      ...passkeyHandlers(services.passkeys, sessionMessage),
      async create(req, ctx) {
        return { user: userMessage(await users.create(namespaceOf(ctx), req, actorOf(ctx))) };
      },
      async read(req, ctx) {
        return { user: userMessage(await users.read(namespaceOf(ctx), req)) };
      },
      async update(req, ctx) {
        return { user: userMessage(await users.update(namespaceOf(ctx), req, actorOf(ctx))) };
      },
      async delete(req, ctx) {
        await users.delete(namespaceOf(ctx), req.id, actorOf(ctx));
        return {};
      },
      async search(req, ctx) {
        return { users: (await users.search(namespaceOf(ctx), req)).map(userMessage) };
      },
      async list(req, ctx) {
        const page = await users.list(namespaceOf(ctx), req);
        return { users: page.users.map(userMessage), nextPageToken: page.nextPageToken };
      },
      async logoutAll(req, ctx) {
        return { revoked: BigInt(await sessions.logoutAll(namespaceOf(ctx), req.userId, actorOf(ctx))) };
      },
      async disableUser(req, ctx) {
        await users.setDisabled(namespaceOf(ctx), req.id, true, actorOf(ctx));
        return {};
      },
      async enableUser(req, ctx) {
        await users.setDisabled(namespaceOf(ctx), req.id, false, actorOf(ctx));
        return {};
      },
      async setPassword(req, ctx) {
        await passwords.set(namespaceOf(ctx), req);
        return {};
      },
      async updatePassword(req, ctx) {
        // A public key (a browser's) is not told whether a user id exists.
        const hideUnknownUser = ctx.values.get(callerKey)?.role === "public";
        await passwords.update(namespaceOf(ctx), req, actorOf(ctx), { hideUnknownUser });
        return {};
      },
      async login(req, ctx) {
        const outcome = await sessions.login(namespaceOf(ctx), req, actorOf(ctx));
        // An account with a second factor gets a ticket for VerifyMfa instead (docs/mfa.md).
        if ("mfaTicket" in outcome) return { mfaRequired: true, mfaTicket: outcome.mfaTicket };
        return { session: sessionMessage(outcome) };
      },
      async logout(req, ctx) {
        await sessions.logout(namespaceOf(ctx), req.sessionId, actorOf(ctx));
        return {};
      },
      async readSession(req, ctx) {
        return { session: sessionMessage(await sessions.read(namespaceOf(ctx), req.sessionId)) };
      },
      async listSessions(req, ctx) {
        const list = await sessions.list(namespaceOf(ctx), req.userId);
        return {
          sessions: list.map((s) => ({
            handle: s.handle,
            created: unixSeconds(s.createdMs),
            expires: unixSeconds(s.expiresMs),
          })),
        };
      },
      async revokeSessions(req, ctx) {
        return { revoked: BigInt(await sessions.revoke(namespaceOf(ctx), req.userId, req.handles, actorOf(ctx))) };
      },
      async sendVerificationEmail(req, ctx) {
        await verification.send(namespaceOf(ctx), req);
        return {};
      },
      async verifyEmail(req, ctx) {
        await verification.verify(namespaceOf(ctx), req.token, actorOf(ctx));
        return {};
      },
      ...mfaHandlers(mfa, sessionMessage),
      async listEvents(req, ctx) {
        const page = await audit.list(namespaceOf(ctx), req);
        return { events: page.events.map(eventMessage), nextPageToken: page.nextPageToken };
      },
      // ---- Account recovery ----
      async sendPasswordResetEmail(req, ctx) {
        await passwordReset.send(namespaceOf(ctx), req);
        return {};
      },
      async resetPassword(req, ctx) {
        await passwordReset.reset(namespaceOf(ctx), req, actorOf(ctx));
        return {};
      },
      async sendMagicLink(req, ctx) {
        await magicLinks.send(namespaceOf(ctx), req);
        return {};
      },
      async verifyToken(req, ctx) {
        const check = await magicLinks.verify(namespaceOf(ctx), req.token, actorOf(ctx));
        if (!check.isValid) return { isValid: false, message: check.message };
        // An account with a second factor gets a ticket for VerifyMfa instead (docs/mfa.md).
        if ("mfaTicket" in check) return { isValid: true, mfaRequired: true, mfaTicket: check.mfaTicket };
        return { isValid: true, session: sessionMessage(check.session) };
      },
      ...tokenHandlers(services.accessTokens),
    },
    { interceptors },
  );
}

function namespaceOf(ctx: HandlerContext): string {
  const caller = ctx.values.get(callerKey);
  // The auth interceptor always runs first; reaching here without it is a wiring bug.
  if (!caller) throw new Error("no caller in context: auth interceptor missing");
  return caller.namespace;
}

function userMessage(user: User): UserInit {
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    created: unixSeconds(user.createdMs),
    updated: unixSeconds(user.updatedMs),
    verified: user.verifiedMs !== undefined,
    verificationDate: unixSeconds(user.verifiedMs ?? 0),
    profile: { ...user.profile },
    disabled: user.disabledMs !== undefined,
  };
}

function eventMessage(event: StoredEvent): EventInit {
  return {
    id: BigInt(event.id),
    type: event.type,
    namespace: event.namespace,
    userId: event.userId,
    actorKeyId: event.actorKey,
    actorSession: event.actorSession,
    requestId: event.requestId,
    created: unixSeconds(event.createdMs),
    data: JSON.stringify(event.data),
  };
}

function sessionMessage(session: Session): SessionInit {
  return {
    id: session.id,
    userId: session.userId,
    username: session.username,
    email: session.email,
    created: unixSeconds(session.createdMs),
    expires: unixSeconds(session.expiresMs),
  };
}
