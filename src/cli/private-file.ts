// Files the CLI writes secrets-adjacent data to (password hashes, key digests).
import fs from "node:fs";

/**
 * Opens `file` for writing, readable by its owner only. The mode given to
 * open applies only when the file is created, so an existing file that others
 * can read is narrowed too before anything is written to it.
 */
export function openPrivateFile(file: string): number {
  const fd = fs.openSync(file, "w", 0o600);
  fs.fchmodSync(fd, 0o600);
  return fd;
}
