// `users-service users import FILE` and `users-service users export [FILE]`:
// move users with their password hashes between databases and systems as
// JSON lines. Hashes are secrets too: export files are created readable by
// their owner only.
import fs from "node:fs";
import readline from "node:readline";
import { finished } from "node:stream/promises";
import { parseArgs } from "node:util";
import type { Config } from "../config/config.js";
import { replacePrivateFile } from "../files/private-file.js";
import { ServiceError } from "../service/errors.js";
import { MAX_IMPORT_COST } from "../service/imported-hash.js";
import { BcryptHasher } from "../service/password-hasher.js";
import { exportLine, parseImportedUser } from "../service/user-import.js";
import { WorkQueue } from "../service/work-queue.js";
import { openRepository } from "../storage/open.js";
import type { Repository, UserExport } from "../storage/repository.js";
import { Progress } from "./progress.js";
import { UsageError } from "./usage.js";

const BATCH = 1000;

export async function usersCommand(config: Config, args: string[]): Promise<number> {
  const [action, ...rest] = args;
  if (action !== "import" && action !== "export") throw new UsageError("users needs one of: import, export");
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { namespace: { type: "string" }, "max-cost": { type: "string" } },
  });
  const repo = await openRepository(config);
  try {
    if (action === "export") return await exportUsers(repo, positionals[0]);
    const file = positionals[0];
    if (!file) throw new UsageError("users import needs a FILE (JSON lines; - for standard input)");
    const maxCost = Number(values["max-cost"] ?? 14);
    if (!Number.isInteger(maxCost) || maxCost < 4 || maxCost > MAX_IMPORT_COST) {
      throw new UsageError(`--max-cost must be a whole number from 4 to ${MAX_IMPORT_COST}`);
    }
    return await importUsers(repo, config, file, values.namespace ?? "default", maxCost);
  } finally {
    await repo.close();
  }
}

async function importUsers(
  repo: Repository,
  config: Config,
  file: string,
  namespace: string,
  maxCost: number,
): Promise<number> {
  const input = file === "-" ? process.stdin : fs.createReadStream(file);
  const total = file === "-" ? undefined : fs.statSync(file).size;
  const progress = new Progress("users import", process.stderr, total);
  const hasher = new BcryptHasher({ cost: config.bcryptCost, queue: new WorkQueue(2, Number.MAX_SAFE_INTEGER) });
  let lineNo = 0;
  let invalid = 0;
  let inserted = 0;
  let skipped = 0;
  let batch: Array<Promise<UserExport>> = [];
  const flush = async () => {
    const result = await repo.importUsers(await Promise.all(batch));
    inserted += result.inserted;
    skipped += result.skipped;
    progress.tick(batch.length, "bytesRead" in input ? (input as fs.ReadStream).bytesRead : undefined);
    batch = [];
  };
  for await (const line of readline.createInterface({ input, crlfDelay: Infinity })) {
    lineNo++;
    if (line.trim() === "") continue;
    try {
      const parsed = parseImportedUser(line, { namespace, nowMs: Date.now(), maxCost });
      batch.push(
        parsed.kind === "hash"
          ? Promise.resolve(parsed.record)
          : hasher.hash(parsed.password).then((passwordHash) => ({ ...parsed.record, passwordHash })),
      );
    } catch (err) {
      invalid++;
      // The line itself is never echoed: it may hold a password or a hash.
      const reason = err instanceof ServiceError ? err.message : "unreadable";
      process.stderr.write(`line ${lineNo}: ${reason}\n`);
    }
    if (batch.length >= BATCH) await flush();
  }
  if (batch.length > 0) await flush();
  progress.finish(`${inserted} imported, ${skipped} skipped (already present), ${invalid} invalid lines`);
  return invalid > 0 ? 1 : 0;
}

async function exportUsers(repo: Repository, file: string | undefined): Promise<number> {
  const pending = file !== undefined && file !== "-" ? replacePrivateFile(file) : undefined;
  const out: NodeJS.WritableStream = pending
    ? fs.createWriteStream("", { fd: pending.fd, autoClose: false })
    : process.stdout;
  try {
    const progress = new Progress("users export", process.stderr, await repo.countUsers());
    let count = 0;
    for await (const page of repo.exportUsers(BATCH)) {
      const text = `${page.map(exportLine).join("\n")}\n`;
      if (!out.write(text)) await new Promise((resolve) => out.once("drain", resolve));
      count += page.length;
      progress.tick(page.length, count);
    }
    if (pending) {
      out.end();
      await finished(out);
      pending.commit();
    }
    progress.finish(`${count} users exported`);
    return 0;
  } catch (err) {
    pending?.discard();
    throw err;
  }
}
