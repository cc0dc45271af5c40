// Files the CLI and the server write secrets or secrets-adjacent data to
// (password hashes, key digests, the first admin key), readable by their owner
// only, and never written through a symbolic link: someone who can plant a
// link at the path must not get the data written to a file of their choosing.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;

/** A new file at exactly this path, mode 0600; fails if anything (a file, a link) is already there. */
export function createExclusivePrivateFile(file: string): number {
  // O_EXCL with O_CREAT fails on an existing path, links included (it never follows one).
  return fs.openSync(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
}

export interface PendingFile {
  /** Where to write. */
  readonly fd: number;
  /** Puts the written file in place of `file` (replacing a link there, never its target) and closes it. */
  commit(): void;
  /** Throws the written data away. */
  discard(): void;
}

/**
 * Writes go to a new private file beside `file`, which takes its place only
 * once complete (rename is atomic, and replaces a link at the path rather than
 * writing through it). A reader never sees a half-written export either.
 */
export function replacePrivateFile(file: string): PendingFile {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString("hex")}.tmp`);
  const fd = createExclusivePrivateFile(temp);
  let open = true;
  const close = () => {
    if (open) fs.closeSync(fd);
    open = false;
  };
  return {
    fd,
    commit() {
      fs.fsyncSync(fd);
      close();
      try {
        fs.renameSync(temp, file);
      } catch (err) {
        fs.rmSync(temp, { force: true });
        throw err;
      }
    },
    discard() {
      close();
      fs.rmSync(temp, { force: true });
    },
  };
}
