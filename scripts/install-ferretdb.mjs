#!/usr/bin/env node
// Builds FerretDB (the MongoDB-compatible server the app embeds when MONGODB_URI is not set)
// into vendor/ferretdb/ferretdb. Run by `npm install` (postinstall), so it never fails the
// install: when Go is missing or the build fails it explains on stderr and exits 0.
// Nothing is printed on stdout.
//
// Why not `go install …@v1.24.2`: the module zip lacks build/version/version.txt (a generated
// file), and a binary built without it panics at start. So: download the module source, copy it
// somewhere writable, write version.txt, and build there.
//
// Environment: FERRETDB_SKIP_INSTALL=1 skips the build.

import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const FERRETDB_MODULE = 'github.com/FerretDB/FerretDB';
const FERRETDB_VERSION = 'v1.24.2';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const vendorDir = join(projectRoot, 'vendor', 'ferretdb');
const binaryPath = join(vendorDir, 'ferretdb');
/** Names the source patches the binary was built with (see PATCHES); a binary without them is rebuilt. */
const patchesPath = join(vendorDir, 'ferretdb.patches');

/**
 * Source patches applied before the build, each a literal replacement in FerretDB's SQLite backend
 * (the build fails when a text is not found, so a new FerretDB version cannot silently skip one).
 * They change how fast `_id` lookups are, never what a query returns:
 *
 * 1. `id-index`: FerretDB pushes an `_id` equality down to SQLite as `_ferretdb_sjson->'$._id' = ?`,
 *    but the unique `_id` index of every collection is on `_ferretdb_sjson->"_id"`; SQLite matches
 *    index expressions literally, so it never used that index and read every row (about 1.5 ms per
 *    1,000 stored documents). Written as `->'_id'` (the same JSON path for SQLite), the lookup uses
 *    the index: O(log n).
 * 2. `id-prefilter-in`: the `_id` equality was pushed down only when it was the whole filter, so the
 *    store's conditional writes (`{_id, version}`) and every `{_id: {$in: […]}}` read the whole
 *    collection and decoded every document in Go. FerretDB's handlers apply the complete filter to
 *    what the backend returns (common.FilterIterator, for find, count, update, delete,
 *    findAndModify and aggregate), so a top-level `_id` equality or `$in` of strings / ObjectIDs
 *    is a safe prefilter whatever else the filter holds.
 * 3. `list-collections-by-name`: every `find` and every insert asks for its collection's metadata
 *    through `ListCollections` with a name, which copied the metadata of every collection of the
 *    database, sorted them and kept the one: O(collections) per command (7% of the server's CPU
 *    under bench:bot at ~450 collections, the web chat's time buckets of a day). It now looks the
 *    name up in the registry's map; without a name it lists all as before.
 */
const PATCHES = [
  {
    id: 'id-index',
    file: 'internal/backends/sqlite/metadata/metadata.go',
    replace: [{ from: `IDColumn = DefaultColumn + "->'$._id'"`, to: `IDColumn = DefaultColumn + "->'_id'"` }],
  },
  {
    id: 'id-prefilter-in',
    file: 'internal/backends/sqlite/collection.go',
    replace: [
      {
        from:
          'if params.Filter.Len() == 1 {\n\t\tv, _ := params.Filter.Get("_id")\n\t\tswitch v.(type) {\n\t\tcase string, types.ObjectID:\n' +
          '\t\t\twhereClause = fmt.Sprintf(` WHERE %s = ?`, metadata.IDColumn)\n\t\t\targs = []any{string(must.NotFail(sjson.MarshalSingleValue(v)))}\n\t\t}\n\t}\n',
        to: 'if w, a, ok := idPrefilter(params.Filter); ok {\n\t\twhereClause, args = w, a\n\t}\n',
      },
      {
        from:
          'if params.Filter.Len() == 1 {\n\t\tv, _ := params.Filter.Get("_id")\n\t\tswitch v.(type) {\n\t\tcase string, types.ObjectID:\n\t\t\tfilterPushdown = true\n' +
          '\t\t\twhereClause = fmt.Sprintf(` WHERE %s = ?`, metadata.IDColumn)\n\t\t\targs = []any{string(must.NotFail(sjson.MarshalSingleValue(v)))}\n\t\t}\n\t}\n',
        to: 'if w, a, ok := idPrefilter(params.Filter); ok {\n\t\tfilterPushdown = true\n\t\twhereClause, args = w, a\n\t}\n',
      },
    ],
    append: `
// idPrefilter returns a WHERE clause on the _id index for the filter's one top-level _id key when
// it is an equality or an $in of strings / ObjectIDs (demand-desk patch). A prefilter: the handler
// applies the whole filter to the documents returned.
func idPrefilter(filter *types.Document) (string, []any, bool) {
	if filter.Len() == 0 {
		return "", nil, false
	}
	n := 0
	for _, k := range filter.Keys() {
		if k == "_id" {
			n++
		}
	}
	if n != 1 {
		return "", nil, false
	}
	v, _ := filter.Get("_id")
	switch v := v.(type) {
	case string, types.ObjectID:
		return fmt.Sprintf(\` WHERE %s = ?\`, metadata.IDColumn), []any{string(must.NotFail(sjson.MarshalSingleValue(v)))}, true
	case *types.Document:
		if v.Len() != 1 || v.Keys()[0] != "$in" {
			return "", nil, false
		}
		in, _ := v.Get("$in")
		arr, ok := in.(*types.Array)
		if !ok || arr.Len() == 0 || arr.Len() > 1000 {
			return "", nil, false
		}
		args := make([]any, 0, arr.Len())
		for i := 0; i < arr.Len(); i++ {
			e, _ := arr.Get(i)
			switch e.(type) {
			case string, types.ObjectID:
				args = append(args, string(must.NotFail(sjson.MarshalSingleValue(e))))
			default:
				return "", nil, false
			}
		}
		return fmt.Sprintf(\` WHERE %s IN (%s)\`, metadata.IDColumn, strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ")), args, true
	}
	return "", nil, false
}
`,
  },
  {
    id: 'list-collections-by-name',
    file: 'internal/backends/sqlite/database.go',
    replace: [
      {
        from: 'func (db *database) ListCollections(ctx context.Context, params *backends.ListCollectionsParams) (*backends.ListCollectionsResult, error) {\n\tlist, err := db.r.CollectionList(ctx, db.name)\n',
        to: 'func (db *database) ListCollections(ctx context.Context, params *backends.ListCollectionsParams) (*backends.ListCollectionsResult, error) {\n\tlist, err := collectionsNamed(ctx, db.r, db.name, params)\n',
      },
    ],
    append: `
// collectionsNamed returns the metadata of the one collection params names, looked up by name,
// or of every collection when params names none (demand-desk patch: the full list is a sorted
// copy of every collection's metadata, and every find and insert asks for its own collection).
func collectionsNamed(ctx context.Context, r *metadata.Registry, dbName string, params *backends.ListCollectionsParams) ([]*metadata.Collection, error) {
	if params == nil || len(params.Name) == 0 {
		return r.CollectionList(ctx, dbName)
	}
	if r.DatabaseGetExisting(ctx, dbName) == nil {
		return nil, nil
	}
	if c := r.CollectionGet(ctx, dbName, params.Name); c != nil {
		return []*metadata.Collection{c}, nil
	}
	return nil, nil
}
`,
  },
];
const PATCH_IDS = PATCHES.map((p) => p.id).join(',');

/** Applies PATCHES to the writable source copy. */
function applyPatches(sourceDir) {
  for (const p of PATCHES) {
    const file = join(sourceDir, p.file);
    let text = readFileSync(file, 'utf8');
    for (const r of p.replace) {
      const found = text.split(r.from).length - 1;
      if (found !== 1) throw new InstallError(`patch ${p.id}: expected the text once in ${p.file}, found it ${found} times`);
      text = text.replace(r.from, () => r.to);
    }
    writeFileSync(file, text + (p.append ?? ''));
  }
}

/** Whether the installed binary was built with the current PATCHES. */
function patchedAsNow() {
  try {
    return readFileSync(patchesPath, 'utf8').trim() === PATCH_IDS;
  } catch {
    return false;
  }
}

const UNAVAILABLE_HINT =
  'The embedded database (FerretDB) is unavailable, so the app and the integration tests need an\n' +
  'external MongoDB-compatible server. Either set MONGODB_URI, for example\n' +
  '  MONGODB_URI=mongodb://127.0.0.1:27017/demand\n' +
  'or make Go available (https://go.dev/dl/; the Go module proxy must be reachable) and run\n' +
  '`npm install` (or `node scripts/install-ferretdb.mjs`) again.';

/** One line (or block) on stderr, prefixed so it is recognisable in `npm install` output. */
function say(message) {
  process.stderr.write(`[install-ferretdb] ${message}\n`);
}

/** Runs a command with stdout/stderr captured (never inherited: stdout must stay clean). */
function run(command, args, options = {}) {
  return spawnSync(command, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
    ...options,
  });
}

/** The version a FerretDB binary reports (`version: v1.24.2`), or null when it does not run. */
function reportedVersion(path) {
  if (!existsSync(path)) return null;
  const result = run(path, ['--version'], { timeout: 30_000 });
  if (result.error || result.status !== 0) return null;
  const match = /^version:\s*(\S+)/m.exec(result.stdout);
  return match ? match[1] : null;
}

/** Last lines of a command's output, for error messages. */
function tail(text, lines = 15) {
  return String(text ?? '')
    .trimEnd()
    .split('\n')
    .slice(-lines)
    .join('\n');
}

/** Module-cache files and directories are read-only; the copy must be writable. */
function makeWritable(path) {
  const stat = statSync(path);
  chmodSync(path, stat.mode | 0o200);
  if (stat.isDirectory()) {
    for (const entry of readdirSync(path)) makeWritable(join(path, entry));
  }
}

class InstallError extends Error {}

function build() {
  // GOWORK=off: no go.work of the user's may take part. -buildvcs=false: the copy is not a repository.
  const goFlags = [process.env.GOFLAGS, '-buildvcs=false'].filter(Boolean).join(' ');
  const goEnv = { ...process.env, GOWORK: 'off', GOFLAGS: goFlags };

  // Run outside any module so the project tree cannot influence `go mod download`.
  const workDir = mkdtempSync(join(tmpdir(), 'ferretdb-build-'));
  try {
    const download = run('go', ['mod', 'download', '-json', `${FERRETDB_MODULE}@${FERRETDB_VERSION}`], {
      cwd: workDir,
      env: goEnv,
    });
    if (download.status !== 0) {
      let reason;
      try {
        reason = JSON.parse(download.stdout).Error;
      } catch {
        // not JSON: show the raw output below
      }
      throw new InstallError(
        `go mod download ${FERRETDB_MODULE}@${FERRETDB_VERSION} failed:\n${reason ?? tail(download.stdout + download.stderr)}`,
      );
    }
    let moduleDir;
    try {
      moduleDir = JSON.parse(download.stdout).Dir;
    } catch {
      throw new InstallError(`could not read the output of go mod download:\n${tail(download.stdout)}`);
    }
    if (typeof moduleDir !== 'string' || !existsSync(moduleDir)) {
      throw new InstallError(`go mod download did not report the module directory:\n${tail(download.stdout)}`);
    }

    const sourceDir = join(workDir, 'src');
    cpSync(moduleDir, sourceDir, { recursive: true });
    makeWritable(sourceDir);
    writeFileSync(join(sourceDir, 'build', 'version', 'version.txt'), `${FERRETDB_VERSION}\n`);
    applyPatches(sourceDir);

    // Build to a temporary name next to the destination, check it, then rename atomically, so an
    // interrupted build never leaves a half-written binary at the final path.
    mkdirSync(vendorDir, { recursive: true });
    const temporaryBinary = join(vendorDir, `.ferretdb-${process.pid}.tmp`);
    try {
      const compile = run('go', ['build', '-trimpath', '-o', temporaryBinary, './cmd/ferretdb'], {
        cwd: sourceDir,
        env: goEnv,
      });
      if (compile.status !== 0) {
        throw new InstallError(`go build failed:\n${tail(compile.stdout + compile.stderr)}`);
      }
      const version = reportedVersion(temporaryBinary);
      if (version !== FERRETDB_VERSION) {
        throw new InstallError(`the built binary reports version ${version ?? '(none)'}, expected ${FERRETDB_VERSION}`);
      }
      renameSync(temporaryBinary, binaryPath);
      writeFileSync(patchesPath, `${PATCH_IDS}\n`);
    } finally {
      rmSync(temporaryBinary, { force: true });
    }
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

function main() {
  if (process.env.FERRETDB_SKIP_INSTALL === '1') {
    say('FERRETDB_SKIP_INSTALL=1: not building the embedded FerretDB; set MONGODB_URI to use an external server.');
    return;
  }

  if (reportedVersion(binaryPath) === FERRETDB_VERSION && patchedAsNow()) {
    say(`FerretDB ${FERRETDB_VERSION} (patches: ${PATCH_IDS}) already installed at ${binaryPath}`);
    return;
  }

  const go = run('go', ['version']);
  if (go.error || go.status !== 0) {
    say(`Go was not found on PATH, so FerretDB ${FERRETDB_VERSION} was not built.\n${UNAVAILABLE_HINT}`);
    return;
  }

  say(`building FerretDB ${FERRETDB_VERSION} (patches: ${PATCH_IDS}) with ${go.stdout.trim()} (a few minutes the first time) …`);
  const started = Date.now();
  try {
    build();
  } catch (error) {
    const detail = error instanceof InstallError ? error.message : (error?.stack ?? String(error));
    say(`building FerretDB ${FERRETDB_VERSION} failed: ${detail}\n${UNAVAILABLE_HINT}`);
    return;
  }
  say(`FerretDB ${FERRETDB_VERSION} built in ${((Date.now() - started) / 1000).toFixed(1)} s: ${binaryPath}`);
}

try {
  main();
} catch (error) {
  // Never fail `npm install` because of the optional embedded database.
  say(`unexpected error: ${error?.stack ?? String(error)}\n${UNAVAILABLE_HINT}`);
}
