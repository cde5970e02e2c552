/**
 * Cross-process locks for {@linkcode FileSystemCache}: 16 lock files
 * (`.lock-0` … `.lock-f`) chosen by the first hex digit of an entry's name,
 * each held with an exclusive `flock` (Windows: `LockFileEx`) through
 * `Deno.FsFile.lockSync`.
 *
 * The kernel drops a lock when its holder dies, so a process killed while
 * holding one never leaves a stale lock behind (no timeouts, no guessing).
 * Critical sections are fully synchronous (no `await` inside), so two callers
 * in one thread can never interleave inside one, and the time another process
 * waits is bounded by one file write. Lock files are never deleted: deleting
 * a lock file that someone holds or waits on would split the lock in two.
 *
 * @module
 */

/** Opens lock files lazily and keeps them open until {@linkcode StripeLocks.close}. */
export class StripeLocks {
  #dir: string;
  #mode: number;
  #files: (Deno.FsFile | undefined)[] = [];

  /**
   * @param dir The cache directory.
   * @param mode The permission bits of lock files created here.
   */
  constructor(dir: string, mode: number) {
    this.#dir = dir;
    this.#mode = mode;
  }

  /** The path of the lock file that guards the entry named `name`. */
  pathOf(name: string): string {
    return `${this.#dir}/.lock-${name[0]}`;
  }

  /**
   * Runs `fn` while holding the lock that guards the entry named `name`.
   * `fn` must be synchronous and must not take another lock.
   */
  run<T>(name: string, fn: () => T): T {
    const stripe = parseInt(name[0]!, 16);
    let file = this.#files[stripe];
    if (file === undefined) {
      file = Deno.openSync(this.pathOf(name), {
        read: true,
        write: true,
        create: true,
        mode: this.#mode,
      });
      this.#files[stripe] = file;
    }
    file.lockSync(true);
    try {
      return fn();
    } finally {
      file.unlockSync();
    }
  }

  /** Closes every lock file this instance opened. */
  close(): void {
    for (const file of this.#files) file?.close();
    this.#files = [];
  }
}
