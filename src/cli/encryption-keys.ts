// `users-service encryption-keys new FILE`: makes the key file, or adds a new
// sealing key at its top (a rotation). The keys themselves are never printed.
import { addEncryptionKey } from "../files/encryption-key-file.js";
import { UsageError } from "./usage.js";

export function encryptionKeysCommand(args: string[], out: NodeJS.WritableStream): void {
  const [action, file, ...rest] = args;
  if (action !== "new" || file === undefined || file.startsWith("-") || rest.length > 0) {
    throw new UsageError("usage: users-service encryption-keys new FILE");
  }
  const { created, keys } = addEncryptionKey(file);
  out.write(
    created
      ? `Created ${file} (mode 0600) with one key. Set ENCRYPTION_KEY_FILE=${file} on every replica.\n`
      : `Added a new sealing key at the top of ${file} (${keys} keys). Restart every replica with the new file; keep the old keys until nothing sealed under them is left.\n`,
  );
}
