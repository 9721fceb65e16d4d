/**
 * An embedded MongoDB-compatible server for when no MONGODB_URI is configured: FerretDB with its
 * SQLite backend (built into vendor/ferretdb/ferretdb by scripts/install-ferretdb.mjs), or a
 * `mongod` found on PATH. The caller owns the process: `stop()` it when done. A server that dies
 * on its own is restarted on the same port and data directory (supervision, with back-off).
 *
 * Reads no configuration itself (the caller passes the data directory); the only environment
 * access is PATH, to look for `mongod`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { basename, delimiter, dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MongoClient } from 'mongodb';
import { guardDriverWrites } from './driver-write-guard.js';
import { DEFAULT_DB_LOG_LEVEL, ferretdbLogLevelFlag, parseDatabaseLogLine, shownAt, type DbLogLevel } from './embedded-server-log.js';
import { DatabaseUnavailableError, EmbeddedServerStartError } from './errors.js';

/** A running embedded server. */
export interface EmbeddedServer {
  /** `mongodb://127.0.0.1:<port>/`; stays the same across `restart()`. */
  readonly uri: string;
  readonly port: number;
  readonly kind: 'ferretdb' | 'mongod';
  /** SIGTERM, then SIGKILL after 10 s. Safe to call more than once. */
  stop(): Promise<void>;
  /** Stops (if running) and starts again on the same port and data directory. */
  restart(): Promise<void>;
  /** Whether the server runs, is being restarted after it died, or was stopped; and how often it was restarted. */
  status(): EmbeddedServerStatus;
  /** Process id of the running server (undefined while none runs). */
  pid(): number | undefined;
}

/** What a supervised server is doing now. */
export interface EmbeddedServerStatus {
  state: 'running' | 'restarting' | 'stopped';
  /** Restarts after an unexpected exit, since start. */
  restarts: number;
  /** How the last unexpected exit happened (`signal SIGKILL`, `exit code 2`), if any. */
  lastExit?: string;
}

/** The subset of a pino logger this module uses. Without `error`, errors go to `warn`; without `debug`, debug records are dropped. */
export interface EmbeddedServerLogger {
  info(o: object, msg: string): void;
  warn(o: object, msg: string): void;
  error?(o: object, msg: string): void;
  debug?(o: object, msg: string): void;
}

export interface EmbeddedServerOptions {
  /** Where the server keeps its files; created when missing. */
  dataDir: string;
  /**
   * Server binary. Default: the vendored FerretDB, else `mongod` on PATH. A binary whose file name
   * starts with `mongod` is run as mongod, anything else as FerretDB.
   */
  binary?: string;
  /** TCP port on 127.0.0.1; default: a free one (see pickPort). */
  port?: number;
  /**
   * How a port is picked when `port` is not given. Default: one free a moment ago. Such a port can
   * be taken before the server binds it; the server then exits with "address already in use" and is
   * started again on another (3 tries). A `port` given by the caller is not replaced.
   */
  pickPort?: () => Promise<number>;
  /**
   * Receives lifecycle messages, and the server's own log messages at `logLevel` or above, one
   * record per message at the database's level, its text prefixed `[ferretdb]` (or `[mongod]`).
   */
  logger?: EmbeddedServerLogger;
  /** How much of the server's own log reaches `logger` (default `warn`: warnings and errors). */
  logLevel?: DbLogLevel;
  /**
   * Restart the server when it exits without being asked to (crash, OOM kill, `kill -9`), after a
   * back-off of 0.1 s doubling to at most 5 s between failed attempts. Default true.
   */
  supervise?: boolean;
}

const FERRETDB_RELATIVE_PATH = join('vendor', 'ferretdb', 'ferretdb');
const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;
const PING_INTERVAL_MS = 100;
const OUTPUT_LINES_KEPT = 20;
/** Tries on a picked port, each on a new one, while the port turns out taken at start. */
const PICKED_PORT_TRIES = 3;
/** Waits before successive restart attempts; the last one repeats. */
const RESTART_BACKOFF_MS = [100, 200, 400, 800, 1600, 3200, 5000];
/** A run that lasted this long resets the back-off: its exit is a new incident, not a crash loop. */
const STABLE_RUN_MS = 60_000;

const silentLogger: EmbeddedServerLogger = { info: () => {}, warn: () => {} };

/** Servers still running, killed if this process exits without stopping them. */
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous; kill() is. Keeps orphaned servers from outliving us.
  process.once('exit', () => {
    for (const child of liveChildren) child.kill('SIGKILL');
  });
}

/** Nearest directory above this module holding package.json (works from the source and from dist/). */
function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return dirname(fileURLToPath(import.meta.url));
    dir = parent;
  }
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function findOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, command);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

function kindOf(binary: string): EmbeddedServer['kind'] {
  return basename(binary).startsWith('mongod') ? 'mongod' : 'ferretdb';
}

/**
 * The server binary `startEmbeddedServer` would run, and how: `binary` if given, else the vendored
 * FerretDB, else `mongod` on PATH.
 *
 * @throws DatabaseUnavailableError when there is none (the message explains MONGODB_URI)
 */
export function resolveEmbeddedServerBinary(binary?: string): { path: string; kind: EmbeddedServer['kind'] } {
  if (binary !== undefined) {
    const path = resolve(binary);
    if (!isExecutableFile(path)) {
      throw new DatabaseUnavailableError(`The database server binary ${path} does not exist or is not executable`);
    }
    return { path, kind: kindOf(path) };
  }
  const vendored = join(projectRoot(), FERRETDB_RELATIVE_PATH);
  if (isExecutableFile(vendored)) return { path: vendored, kind: 'ferretdb' };
  const mongod = findOnPath('mongod');
  if (mongod !== undefined) return { path: mongod, kind: 'mongod' };
  throw new DatabaseUnavailableError(
    `No database server available: MONGODB_URI is not set, ${vendored} does not exist and mongod is not on PATH`,
  );
}

/** A port that was free a moment ago (bind port 0, read it, close). */
async function findFreePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const address = server.address();
  await new Promise<void>((ok) => server.close(() => ok()));
  if (address === null || typeof address === 'string') throw new Error('could not read the port of a probe socket');
  return address.port;
}

function serverArgs(kind: EmbeddedServer['kind'], dataDir: string, port: number, logLevel: DbLogLevel): string[] {
  if (kind === 'mongod') {
    return ['--dbpath', dataDir, '--port', String(port), '--bind_ip', '127.0.0.1'];
  }
  // --debug-addr=-: otherwise every instance binds 127.0.0.1:8088 and a second one fails.
  // The SQLite URL must name an existing directory and end with '/'; a file: URL escapes odd paths.
  const sqliteUrl = `${pathToFileURL(dataDir).href.replace(/\/?$/, '/')}`;
  return [
    '--handler=sqlite',
    `--sqlite-url=${sqliteUrl}`,
    `--state-dir=${dataDir}`,
    `--listen-addr=127.0.0.1:${port}`,
    '--telemetry=disable',
    '--debug-addr=-',
    // One JSON object a line: its replies' multi-line dumps stay one message (see embedded-server-log.ts).
    '--log-format=json',
    `--log-level=${ferretdbLogLevelFlag(logLevel)}`,
  ];
}

/** Whether something accepts TCP connections on the port: a cheap check before a driver ping. */
function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.setTimeout(500);
    const done = (result: boolean) => {
      socket.destroy();
      ok(result);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

const delay = (ms: number) => new Promise<void>((ok) => setTimeout(ok, ms));

/** One run of the server process. */
interface Run {
  child: ChildProcess;
  /** Set once the process has exited or could not be spawned. */
  ended: boolean;
  exited: Promise<void>;
  /** Last lines of output (both streams), for error messages. */
  recentOutput: string[];
  stopping?: Promise<void>;
}

function describeExit(child: ChildProcess): string {
  if (child.signalCode !== null) return `signal ${child.signalCode}`;
  if (child.exitCode !== null) return `exit code ${child.exitCode}`;
  return 'no exit status (it could not be spawned)';
}

/** What every step of running the server needs: the binary and its arguments, where it listens, its log. */
interface ServerSpec {
  binary: string;
  kind: EmbeddedServer['kind'];
  args: string[];
  port: number;
  uri: string;
  dataDir: string;
  logger: EmbeddedServerLogger;
  logLevel: DbLogLevel;
}

/**
 * Starts an embedded MongoDB-compatible server and resolves once it answers `ping`.
 *
 * @throws DatabaseUnavailableError when no server binary is available (message explains MONGODB_URI)
 * @throws EmbeddedServerStartError when the process exits early or does not answer within 30 s
 */
export async function startEmbeddedServer(opts: EmbeddedServerOptions): Promise<EmbeddedServer> {
  const { path: binary, kind } = resolveEmbeddedServerBinary(opts.binary);
  const logger = opts.logger ?? silentLogger;
  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  for (let attempt = 1; ; attempt++) {
    const port = opts.port ?? (await (opts.pickPort ?? findFreePort)());
    try {
      return await startOn(port, { binary, kind, dataDir, logger, logLevel: opts.logLevel ?? DEFAULT_DB_LOG_LEVEL, supervise: opts.supervise ?? true });
    } catch (error) {
      if (opts.port !== undefined || attempt >= PICKED_PORT_TRIES || !portTaken(error)) throw error;
      logger.warn({ server: kind, port, attempt }, `${kind} found port ${port} taken at start; trying another`);
    }
  }
}

/** Whether a start failed because the server could not bind its port (FerretDB and mongod both say so). */
function portTaken(error: unknown): boolean {
  return error instanceof EmbeddedServerStartError && /address already in use/i.test(error.message);
}

/** Starts the server on `port` and resolves once it answers (see startEmbeddedServer). */
async function startOn(port: number, o: Pick<ServerSpec, 'binary' | 'kind' | 'dataDir' | 'logger' | 'logLevel'> & { supervise: boolean }): Promise<EmbeddedServer> {
  const { binary, kind, dataDir, logger, logLevel } = o;
  const uri = `mongodb://127.0.0.1:${port}/`;
  const args = serverArgs(kind, dataDir, port, logLevel);
  const server = new Supervisor({ binary, kind, args, port, uri, dataDir, logger, logLevel }, o.supervise);

  await server.start();

  return {
    uri,
    port,
    kind,
    stop: () => server.stop(),
    restart: () => server.restart(),
    status: () => server.status(),
    pid: () => server.pid(),
  };
}

/**
 * Spawns one run of the server; its log messages at `logLevel` or above are logged, and the last
 * lines it writes kept for errors (a bind error or a crash reason is there even when not logged).
 */
function launch(spec: ServerSpec): Run {
  const { kind, port, logger, logLevel } = spec;
  installExitHook();
  const child = spawn(spec.binary, spec.args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const recentOutput: string[] = [];
  const run: Run = { child, ended: false, exited: Promise.resolve(), recentOutput };
  run.exited = new Promise<void>((ok) => {
    const end = () => {
      run.ended = true;
      liveChildren.delete(child);
      ok();
    };
    // 'close' (not 'exit'): all output has been read by then, so error messages show the last lines
    child.once('close', end);
    // spawn failures (e.g. EACCES) emit 'error' and no 'exit'
    child.once('error', (error) => {
      recentOutput.push(`spawn error: ${error.message}`);
      end();
    });
  });
  liveChildren.add(child);
  for (const [stream, source] of [
    ['stdout', child.stdout],
    ['stderr', child.stderr],
  ] as const) {
    if (source === null) continue;
    createInterface({ input: source, crlfDelay: Infinity }).on('line', (line) => {
      if (line.trim() === '') return;
      const record = parseDatabaseLogLine(kind, line);
      recentOutput.push(`${record.dbLevel === 'text' ? '' : `${record.dbLevel} `}${record.text}`);
      if (recentOutput.length > OUTPUT_LINES_KEPT) recentOutput.shift();
      if (!shownAt(record.level, logLevel)) return;
      const fields = { server: kind, pid: child.pid, port, stream, dbLevel: record.dbLevel, ...(Object.keys(record.attrs).length > 0 ? { db: record.attrs } : {}) };
      logAt(logger, record.level, fields, `[${kind}] ${record.text}`);
    });
  }
  return run;
}

/** Logs at `level`, falling back to `warn` for a logger without `error` and to nothing without `debug`. */
function logAt(logger: EmbeddedServerLogger, level: DbLogLevel, fields: object, msg: string): void {
  if (level === 'error') (logger.error ?? logger.warn).call(logger, fields, msg);
  else if (level === 'warn') logger.warn(fields, msg);
  else if (level === 'info') logger.info(fields, msg);
  else logger.debug?.(fields, msg);
}

/** Stops a run: SIGTERM, then SIGKILL after STOP_GRACE_MS. Every caller shares the one stop. */
function stopRun(spec: ServerSpec, run: Run): Promise<void> {
  const { kind, port, logger } = spec;
  run.stopping ??= (async () => {
    if (run.ended) return;
    run.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const graceful = await Promise.race([
      run.exited.then(() => true),
      new Promise<boolean>((ok) => (timer = setTimeout(() => ok(false), STOP_GRACE_MS))),
    ]);
    // a pending timer would keep the event loop (and a shutting-down process) alive for 10 s
    clearTimeout(timer);
    if (!graceful) {
      logger.warn({ server: kind, pid: run.child.pid, port }, `${kind} did not stop within ${STOP_GRACE_MS} ms; killing it`);
      run.child.kill('SIGKILL');
      await run.exited;
    }
    logger.info({ server: kind, pid: run.child.pid, port }, `${kind} stopped`);
  })();
  return run.stopping;
}

/**
 * Resolves once the run answers `ping`.
 *
 * @throws EmbeddedServerStartError when the run exits first, or (stopped) after START_TIMEOUT_MS
 */
async function waitUntilReady(spec: ServerSpec, run: Run): Promise<void> {
  const { binary, kind, port, uri } = spec;
  const deadline = Date.now() + START_TIMEOUT_MS;
  let lastError: unknown;
  for (;;) {
    if (run.ended || run.stopping) {
      await run.exited;
      throw new EmbeddedServerStartError(
        `${kind} (${binary}) exited during start-up with ${describeExit(run.child)}; last output:\n` +
          (run.recentOutput.join('\n') || '(none)'),
      );
    }
    // A refused connection costs the driver its whole server-selection timeout; a TCP probe does not.
    if (await acceptsConnections(port)) {
      guardDriverWrites(); // as createClient (store/database.ts) does for every app client
      const client = new MongoClient(uri, { serverSelectionTimeoutMS: 500, connectTimeoutMS: 500 });
      try {
        // The port was free when chosen, but another process may have taken it since (a restart
        // reuses the port): only our own process answering means our server is up.
        const { pid } = await client.db('admin').command({ serverStatus: 1 });
        if (Number(pid) === run.child.pid) return;
        lastError = new Error(`another server (pid ${String(pid)}) answers on 127.0.0.1:${port}`);
      } catch (error) {
        lastError = error;
      } finally {
        await client.close().catch(() => {});
      }
    } else {
      lastError = new Error(`nothing accepts connections on 127.0.0.1:${port} yet`);
    }
    if (Date.now() >= deadline) {
      await stopRun(spec, run);
      const reason = lastError instanceof Error ? lastError.message : String(lastError);
      throw new EmbeddedServerStartError(
        `${kind} (${binary}) did not answer ping at ${uri} within ${START_TIMEOUT_MS / 1000} s ` +
          `(last error: ${reason}); last output:\n${run.recentOutput.join('\n') || '(none)'}`,
      );
    }
    await delay(PING_INTERVAL_MS);
  }
}

/**
 * The server's current run and its supervision: a run that exits without being asked to is started
 * again after a back-off (RESTART_BACKOFF_MS), until `stop()`.
 */
class Supervisor {
  private current: Run | undefined;
  private stopped = false;
  private state: EmbeddedServerStatus['state'] = 'running';
  private restarts = 0;
  private lastExit: string | undefined;
  private attempt = 0;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly spec: ServerSpec,
    private readonly supervise: boolean,
  ) {}

  /** Launches a run and waits until it is ready; from then on its exit is watched. */
  async start(): Promise<void> {
    const { kind, port, dataDir, uri, logger } = this.spec;
    const run = launch(this.spec);
    this.current = run;
    const started = Date.now();
    await waitUntilReady(this.spec, run);
    this.state = 'running';
    this.watch(run, Date.now());
    logger.info({ server: kind, pid: run.child.pid, port, dataDir, ms: Date.now() - started }, `${kind} ready at ${uri}`);
  }

  /** Stops the run and any pending restart, for good (until `restart()`). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.state = 'stopped';
    clearTimeout(this.restartTimer);
    if (this.current !== undefined) await stopRun(this.spec, this.current);
  }

  /** Stops (if running) and starts again; supervision resumes with the new run. */
  async restart(): Promise<void> {
    await this.stop();
    this.stopped = false;
    await this.start();
  }

  status(): EmbeddedServerStatus {
    return { state: this.state, restarts: this.restarts, ...(this.lastExit ? { lastExit: this.lastExit } : {}) };
  }

  pid(): number | undefined {
    return this.current && !this.current.ended ? this.current.child.pid : undefined;
  }

  // Armed once a run is ready, so an exit during start-up is the starter's error, not a crash.
  private watch(run: Run, readyAt: number): void {
    const { kind, port, logger } = this.spec;
    void run.exited.then(() => {
      if (!this.supervise || this.stopped || run.stopping || this.current !== run) return;
      this.lastExit = describeExit(run.child);
      if (Date.now() - readyAt >= STABLE_RUN_MS) this.attempt = 0;
      this.state = 'restarting';
      logger.warn({ server: kind, pid: run.child.pid, port, exit: this.lastExit }, `${kind} exited unexpectedly; restarting`);
      this.scheduleRestart();
    });
  }

  private scheduleRestart(): void {
    const { kind, port, logger } = this.spec;
    const wait = RESTART_BACKOFF_MS[Math.min(this.attempt, RESTART_BACKOFF_MS.length - 1)];
    this.attempt++;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopped) return;
      this.start().then(
        () => {
          this.restarts++;
          logger.info({ server: kind, port, restarts: this.restarts }, `${kind} restarted`);
        },
        (err: Error) => {
          logger.warn({ server: kind, port, err: err.message, attempt: this.attempt }, `${kind} restart failed; trying again`);
          if (!this.stopped) this.scheduleRestart();
        },
      );
    }, wait);
    // A pending restart must not keep a finished process alive.
    this.restartTimer.unref();
  }
}
