// The Users service as Connect handlers: each RPC takes the caller's
// namespace from the call context, calls the protocol-free service layer and
// converts its result to the generated message types. Nothing here knows
// about sockets or HTTP.
import type { ConnectRouter, HandlerContext, Interceptor } from "@connectrpc/connect";
import { type Session as SessionMessage, type User as UserMessage, Users } from "../../gen/users/v1/users_pb.js";
import type { Session, User } from "../service/model.js";
import type { PasswordsService } from "../service/passwords.js";
import type { SessionsService } from "../service/sessions.js";
import type { UsersService } from "../service/users.js";
import type { VerificationService } from "../service/verification.js";
import { callerKey } from "./call-context.js";
import { unixSeconds } from "./unix-seconds.js";

export interface UsersServices {
  users: UsersService;
  sessions: SessionsService;
  passwords: PasswordsService;
  verification: VerificationService;
}

type UserInit = Omit<UserMessage, "$typeName">;
type SessionInit = Omit<SessionMessage, "$typeName">;

export function registerUsers(router: ConnectRouter, services: UsersServices, interceptors: Interceptor[]): void {
  const { users, sessions, passwords, verification } = services;
  router.service(
    Users,
    {
      async create(req, ctx) {
        return { user: userMessage(await users.create(namespaceOf(ctx), req)) };
      },
      async read(req, ctx) {
        return { user: userMessage(await users.read(namespaceOf(ctx), req)) };
      },
      async update(req, ctx) {
        return { user: userMessage(await users.update(namespaceOf(ctx), req)) };
      },
      async delete(req, ctx) {
        await users.delete(namespaceOf(ctx), req.id);
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
        return { revoked: BigInt(await sessions.logoutAll(namespaceOf(ctx), req.userId)) };
      },
      async disableUser(req, ctx) {
        await users.setDisabled(namespaceOf(ctx), req.id, true);
        return {};
      },
      async enableUser(req, ctx) {
        await users.setDisabled(namespaceOf(ctx), req.id, false);
        return {};
      },
      async setPassword(req, ctx) {
        await passwords.set(namespaceOf(ctx), req);
        return {};
      },
      async updatePassword(req, ctx) {
        await passwords.update(namespaceOf(ctx), req);
        return {};
      },
      async login(req, ctx) {
        return { session: sessionMessage(await sessions.login(namespaceOf(ctx), req)) };
      },
      async logout(req, ctx) {
        await sessions.logout(namespaceOf(ctx), req.sessionId);
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
        return { revoked: BigInt(await sessions.revoke(namespaceOf(ctx), req.userId, req.handles)) };
      },
      async sendVerificationEmail(req, ctx) {
        await verification.send(namespaceOf(ctx), req);
        return {};
      },
      async verifyEmail(req, ctx) {
        await verification.verify(namespaceOf(ctx), req.token);
        return {};
      },
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
