/**
 * Vitest globalSetup: gives every test file a MongoDB-compatible server as `inject('mongoUri')`.
 *
 * MONGODB_URI set → that server is used as is. Otherwise an embedded server (vendored FerretDB, or
 * mongod on PATH) is started once for the whole run in a fresh temporary directory, and stopped and
 * deleted at the end. Test files pick their own database names, so they do not see each other's data.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedServer } from '../../store/embedded-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Connection string of the test database server, e.g. `mongodb://127.0.0.1:41234/`. */
    mongoUri: string;
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const external = process.env.MONGODB_URI;
  if (external !== undefined && external !== '') {
    project.provide('mongoUri', external);
    return undefined;
  }

  const dataDir = mkdtempSync(join(tmpdir(), 'demand-test-db-'));
  try {
    const server = await startEmbeddedServer({
      dataDir,
      // The server's own warnings are the error replies tests provoke on purpose: noise here. Its
      // errors and the supervisor's warnings (a crash, a restart) are not; start-up failures carry its last lines.
      logLevel: 'error',
      logger: {
        info: () => {},
        warn: (o, msg) => process.stderr.write(`[test database] ${msg} ${JSON.stringify(o)}\n`),
        error: (o, msg) => process.stderr.write(`[test database] ${msg} ${JSON.stringify(o)}\n`),
      },
    });
    project.provide('mongoUri', server.uri);
    return async () => {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    };
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
}
