// The KeysService RPCs (admin keys only: access.ts) as Connect handlers over
// the protocol-free KeysService of src/service/keys.ts.
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import { type ApiKey, KeysService as KeysRpc } from "../../gen/users/v1/keys_pb.js";
import { invalidArgument } from "../service/errors.js";
import type { KeysService } from "../service/keys.js";
import type { ApiKeyRow, KeyRole } from "../storage/repository.js";

type ApiKeyInit = Omit<ApiKey, "$typeName">;

export function registerKeys(router: ConnectRouter, keys: KeysService, interceptors: Interceptor[]): void {
  router.service(
    KeysRpc,
    {
      async listKeys() {
        return { keys: (await keys.list()).map(keyMessage) };
      },
      async createKey(req) {
        const role = roleOf(req.role);
        const created = await keys.create(req.namespace === "" ? null : req.namespace, req.label, role);
        const { key: secret, ...row } = created;
        return { key: keyMessage({ ...row, revokedMs: null }), secret };
      },
      async revokeKey(req) {
        await keys.revoke(req.id);
        return {};
      },
    },
    { interceptors },
  );
}

function roleOf(role: string): KeyRole {
  if (role === "admin" || role === "service" || role === "public") return role;
  throw invalidArgument("role", 'must be one of "admin", "service", "public"', "FIELD_MALFORMED");
}

const seconds = (ms: number): bigint => BigInt(Math.floor(ms / 1000));

function keyMessage(row: ApiKeyRow): ApiKeyInit {
  return {
    id: row.id,
    role: row.role,
    namespace: row.namespace ?? "",
    label: row.label,
    created: seconds(row.createdMs),
    revoked: row.revokedMs === null ? 0n : seconds(row.revokedMs),
  };
}
