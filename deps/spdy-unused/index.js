'use strict';
/**
 * Stands in for `spdy` (HTTP/2 over SPDY), installed through `overrides` in the project's
 * package.json. restify 11 requires spdy when it loads (lib/server.js) but uses it only for a server
 * created with the `spdy` option, which this project never passes. The real spdy (last release
 * 2020) loads http-deceiver, which reads `process.binding('http_parser')`: Node's DEP0111 warning
 * at every start and in every test process. restify merged a lazy require of spdy upstream
 * (restify/node-restify#1943) and dropped spdy in 12.0.0, which needs Node 22; when the project
 * moves to restify 12, remove this package and the override.
 */
function unavailable() {
  throw new Error('spdy is not installed in this project (deps/spdy-unused): restify\'s `spdy` server option is not supported; use its `http2` option instead');
}

module.exports = { createServer: unavailable };
