// `users-service keys create|list|revoke`: manage API keys in the configured database.
import fs from "node:fs";
import { parseArgs } from "node:util";
import type { Config } from "../config/config.js";
import { replacePrivateFile } from "../files/private-file.js";
import { KeysService, keyExportLine, parseKeyExportLine } from "../service/keys.js";
import { openRepository } from "../storage/open.js";
import { UsageError } from "./usage.js";

export async function keysCommand(config: Config, args: string[], out: NodeJS.WritableStream): Promise<void> {
  const [action, ...rest] = args;
  const repo = await openRepository(config);
  const keys = new KeysService({ repo, now: Date.now, cacheSeconds: 0 });
  try {
    switch (action) {
      case "create": {
        const { values } = parseArgs({
          args: rest,
          options: {
            namespace: { type: "string" },
            admin: { type: "boolean" },
            role: { type: "string" },
            label: { type: "string" },
          },
        });
        if ((values.namespace === undefined) === (values.admin !== true)) {
          throw new UsageError("keys create needs exactly one of --namespace NS or --admin");
        }
        if ((values.admin && values.role !== undefined) || values.role === "admin") {
          throw new UsageError("keys create: an admin key is made with --admin alone (no --namespace, no --role)");
        }
        const role = values.admin ? "admin" : (values.role ?? "service");
        if (role !== "admin" && role !== "service" && role !== "public") {
          throw new UsageError("keys create --namespace NS takes --role service (the default) or --role public");
        }
        const created = await keys.create(values.admin ? null : values.namespace!, values.label ?? "", role);
        const what =
          created.namespace === null ? "an admin key" : `a ${created.role} key for namespace "${created.namespace}"`;
        out.write(
          `Created ${what} (id ${created.id}).\n` +
            `It is shown only this once; keep it secret:\n\n  ${created.key}\n\n`,
        );
        return;
      }
      case "list": {
        const rows = await keys.list();
        out.write("ID                    ROLE     NAMESPACE              CREATED               STATUS   LABEL\n");
        for (const row of rows) {
          const namespace = row.namespace ?? "(all)";
          const status = row.revokedMs === null ? "active" : "revoked";
          out.write(
            `${row.id.padEnd(22)}${row.role.padEnd(9)}${namespace.padEnd(23)}${new Date(row.createdMs).toISOString().slice(0, 19).padEnd(22)}${status.padEnd(9)}${printable(row.label)}\n`,
          );
        }
        return;
      }
      case "revoke": {
        const id = rest[0];
        if (!id) throw new UsageError("keys revoke needs the key id (see keys list)");
        await keys.revoke(id);
        out.write(`Revoked ${id}.\n`);
        return;
      }
      case "export": {
        // Only digests leave the database: an export cannot be used to call the service.
        const file = rest[0];
        const lines = (await repo.exportApiKeys()).map(keyExportLine).join("\n");
        const text = lines === "" ? "" : `${lines}\n`;
        if (file && file !== "-") {
          const pending = replacePrivateFile(file);
          try {
            fs.writeFileSync(pending.fd, text);
            pending.commit();
          } catch (err) {
            pending.discard();
            throw err;
          }
        } else out.write(text);
        return;
      }
      case "import": {
        const file = rest[0];
        if (!file) throw new UsageError("keys import needs a FILE written by keys export (- for standard input)");
        const text = fs.readFileSync(file === "-" ? 0 : file, "utf8");
        const records = text
          .split("\n")
          .filter((line) => line.trim() !== "")
          .map((line, i) => parseKeyExportLine(line, i + 1));
        const inserted = await repo.importApiKeys(records);
        out.write(`Imported ${inserted} API keys (${records.length - inserted} already present).\n`);
        return;
      }
      default:
        throw new UsageError("keys needs one of: create, list, revoke, export, import");
    }
  } finally {
    await repo.close();
  }
}

/**
 * Text from the database as a terminal may show it: control characters
 * (escape sequences could rewrite the screen or the clipboard) are written
 * as \xNN or \u{N} (a backslash as two) instead of being sent raw.
 */
export function printable(text: string): string {
  return text.replace(/[\p{Cc}\p{Cf}\\]/gu, (c) => {
    if (c === "\\") return "\\\\";
    const code = c.codePointAt(0)!;
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u{${code.toString(16)}}`;
  });
}
