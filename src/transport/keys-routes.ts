// The KeysService RPCs (admin keys only: access.ts) as Connect handlers over
// the protocol-free KeysService of src/service/keys.ts.
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import { type ApiKey, KeysService as KeysRpc } from "../../gen/users/v1/keys_pb.js";
import { type KeysService, keyScope } from "../service/keys.js";
import type { ApiKeyRow } from "../storage/repository.js";
import { actorOf } from "./call-context.js";
import { unixSeconds } from "./unix-seconds.js";

type ApiKeyInit = Omit<ApiKey, "$typeName">;

export function registerKeys(router: ConnectRouter, keys: KeysService, interceptors: Interceptor[]): void {
  router.service(
    KeysRpc,
    {
      async listKeys() {
        return { keys: (await keys.list()).map(keyMessage) };
      },
      async createKey(req, ctx) {
        const namespace = req.namespace === "" ? null : req.namespace;
        const created = await keys.create(namespace, req.label, keyScope(req.role, namespace), actorOf(ctx));
        const { key: secret, ...row } = created;
        return { key: keyMessage({ ...row, revokedMs: null }), secret };
      },
      async revokeKey(req, ctx) {
        await keys.revoke(req.id, actorOf(ctx));
        return {};
      },
    },
    { interceptors },
  );
}

function keyMessage(row: ApiKeyRow): ApiKeyInit {
  return {
    id: row.id,
    role: row.role,
    namespace: row.namespace ?? "",
    label: row.label,
    created: unixSeconds(row.createdMs),
    revoked: row.revokedMs === null ? 0n : unixSeconds(row.revokedMs),
  };
}
