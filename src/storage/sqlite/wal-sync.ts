// Commits made durable without holding the event loop.
//
// With synchronous = FULL, SQLite fsyncs the WAL inside every commit, and
// better-sqlite3 runs the commit on the event loop: each write held every
// other call for the fsync (1.2 to 4.2 ms per commit on the bench machine's
// disk, longer when other processes write), and a Login makes two or three.
// The engine now runs with synchronous = NORMAL, where a commit only writes
// its frames to the WAL file, and a write is answered only after WalSync has
// flushed that file on libuv's thread pool: one fdatasync for every commit
// made meanwhile (group commit). So a write is still acknowledged only once it
// is on disk, as with FULL. (A concurrent read may see a commit a moment
// before it is durable; no caller has been told of it yet.)
import fs from "node:fs/promises";

export class WalSync {
  private file: Promise<fs.FileHandle> | undefined;
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(private readonly walPath: string) {}

  /** Resolves once every commit made before this call is on disk. */
  sync(): Promise<void> {
    if (!this.running) return this.start();
    // The flush running may have begun before this commit: one more after it,
    // shared by everyone who asks meanwhile.
    this.queued ??= this.running.then(
      () => this.startQueued(),
      () => this.startQueued(),
    );
    return this.queued;
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.running, this.queued]);
    const file = this.file;
    this.file = undefined;
    if (file) await (await file).close();
  }

  private startQueued(): Promise<void> {
    this.queued = undefined;
    return this.start();
  }

  private start(): Promise<void> {
    const run = this.flush().finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }

  private async flush(): Promise<void> {
    // Opened at the first write: SQLite has made the WAL file by then, and
    // keeps that same file while any connection is open (ours is).
    this.file ??= fs.open(this.walPath, "r");
    try {
      await (await this.file).datasync();
    } catch (err) {
      this.file = undefined;
      throw err;
    }
  }
}
