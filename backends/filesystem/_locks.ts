/**
 * Cross-process locks for {@linkcode FileSystemCache}: 16 lock files
 * (`.lock-0` … `.lock-f`) chosen by the first hex digit of an entry's name,
 * each held with an exclusive `flock` (Windows: `LockFileEx`) through
 * `Deno.FsFile.tryLockSync`.
 *
 * The kernel drops a lock when its holder dies, so a process killed while
 * holding one never leaves a stale lock behind. A lock held by a live but
 * stuck process is waited for with timers (never a blocking `lockSync`), at
 * most `timeout` ms, then the caller gets a {@linkcode LockTimeout}.
 * Critical sections are fully synchronous (no `await` inside), so two callers
 * in one thread can never interleave inside one. Lock files are never
 * deleted: deleting a lock file that someone holds or waits on would split
 * the lock in two. A lock file is never followed through a symlink: it is
 * created with `createNew`, or, when it exists, must be a regular file and
 * the very file that was opened.
 *
 * @module
 */

/** A lock still held by someone else after the timeout. */
export class LockTimeout extends Error {
  /** The lock file. */
  readonly path: string;
  /** How long the caller waited, in ms. */
  readonly waited: number;

  constructor(path: string, waited: number) {
    super(`lock file ${path} still held by another process after ${waited} ms`);
    this.name = "LockTimeout";
    this.path = path;
    this.waited = waited;
  }
}

/** A lock file that is not a regular file (a symlink, a FIFO…), or was swapped while opened. */
export class UnsafeLockFile extends Error {
  constructor(path: string, what: string) {
    super(`lock file ${path} ${what}; refusing to use it (remove it if it is not an attack)`);
    this.name = "UnsafeLockFile";
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Opens (creating when missing) the lock file at `path` without following a
 * symlink.
 *
 * @throws {UnsafeLockFile} Something other than a regular file is there.
 */
export function openLockFile(path: string, mode: number): Deno.FsFile {
  try {
    return Deno.openSync(path, { read: true, write: true, createNew: true, mode });
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  }
  const seen = Deno.lstatSync(path);
  if (!seen.isFile) {
    throw new UnsafeLockFile(path, seen.isSymlink ? "is a symlink" : "is not a regular file");
  }
  const file = Deno.openSync(path, { read: true, write: true });
  const info = file.statSync();
  if (info.ino !== seen.ino || info.dev !== seen.dev) {
    file.close();
    throw new UnsafeLockFile(path, "was replaced while it was being opened");
  }
  return file;
}

/** Opens lock files lazily and keeps them open until {@linkcode StripeLocks.close}. */
export class StripeLocks {
  #dir: string;
  #mode: number;
  #timeout: number;
  #files: (Deno.FsFile | undefined)[] = [];
  #closed = false;

  /**
   * @param dir The cache directory.
   * @param mode The permission bits of lock files created here.
   * @param timeout The longest wait for a lock another process holds, in ms.
   */
  constructor(dir: string, mode: number, timeout: number) {
    this.#dir = dir;
    this.#mode = mode;
    this.#timeout = timeout;
  }

  /** The path of the lock file that guards the entry named `name`. */
  pathOf(name: string): string {
    return `${this.#dir}/.lock-${name[0]}`;
  }

  #fileOf(name: string): Deno.FsFile {
    if (this.#closed) throw new Error("the cache was closed while waiting for a lock");
    const stripe = parseInt(name[0]!, 16);
    let file = this.#files[stripe];
    if (file === undefined) {
      file = openLockFile(this.pathOf(name), this.#mode);
      this.#files[stripe] = file;
    }
    return file;
  }

  /**
   * Runs `fn` while holding the lock that guards the entry named `name`;
   * resolves at once (no timer) when the lock is free. `fn` must be
   * synchronous and must not take another lock.
   *
   * @throws {LockTimeout} Another process held the lock for `timeout` ms.
   * @throws {UnsafeLockFile} The lock file is not a regular file.
   */
  run<T>(name: string, fn: () => T): Promise<T> {
    try {
      const file = this.#fileOf(name);
      if (file.tryLockSync(true)) return Promise.resolve(this.#holding(file, fn));
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#wait(name, fn);
  }

  #holding<T>(file: Deno.FsFile, fn: () => T): T {
    try {
      return fn();
    } finally {
      file.unlockSync();
    }
  }

  /** Polls the lock with growing sleeps (1 ms … 50 ms) until it is free or the timeout passes. */
  async #wait<T>(name: string, fn: () => T): Promise<T> {
    const started = Date.now();
    let pause = 1;
    for (;;) {
      const left = this.#timeout - (Date.now() - started);
      if (left <= 0) throw new LockTimeout(this.pathOf(name), Date.now() - started);
      await sleep(Math.min(pause, left));
      pause = Math.min(pause * 2, 50);
      const file = this.#fileOf(name); // close() may have run meanwhile
      if (file.tryLockSync(true)) return this.#holding(file, fn);
    }
  }

  /** Closes every lock file this instance opened. */
  close(): void {
    this.#closed = true;
    for (const file of this.#files) file?.close();
    this.#files = [];
  }
}
