/**
 * restify 11 requires spdy when it loads; the project installs a stand-in (deps/spdy-unused, through
 * `overrides`) because the real one loads http-deceiver, which printed Node's DEP0111 warning at every
 * start. restify's plain HTTP server is what the bot uses; the `spdy` option is refused, saying why.
 */
import { Server as HttpServer } from 'node:http';
import restify from 'restify';
import { describe, expect, it } from 'vitest';

describe("restify without spdy", () => {
  it('creates its plain HTTP server, and refuses the spdy option with a clear error', () => {
    const server = restify.createServer({ name: 'spdy-check' });
    expect(server.server).toBeInstanceOf(HttpServer);
    expect(() => restify.createServer({ name: 'spdy-check', spdy: {} } as unknown as restify.ServerOptions)).toThrow(/spdy is not installed in this project .*use its `http2` option instead/);
  });
});
