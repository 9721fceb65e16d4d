/**
 * The embedded database's output as the server's log (store/embedded-server-log.ts). The FerretDB
 * lines are verbatim from the vendored binary run with `--log-format=json --log-level=WARN` here:
 * a client listing the indexes of a missing collection and closing (the driver's endSessions, an
 * idle connection reset), and a second server on a taken port.
 */
import { describe, expect, it } from 'vitest';
import { parseDatabaseLogLine, shownAt, type DbLogLevel } from '../../store/embedded-server-log.js';

const REPLY_HEADER = "{\"time\":\"2026-12-07T06:34:43.57729544Z\",\"level\":\"WARN\",\"source\":{\"function\":\"github.com/FerretDB/FerretDB/internal/clientconn.(*conn).logResponse\",\"file\":\"clientconn/conn.go\",\"line\":624},\"msg\":\"Response header: length:   118, id:    2, response_to:    3, opcode: OP_MSG\",\"name\":\"// 127.0.0.1:55172 -> 127.0.0.1:39411 \"}";
const REPLY_NAMESPACE_NOT_FOUND = "{\"time\":\"2026-12-07T06:34:43.577476831Z\",\"level\":\"WARN\",\"source\":{\"function\":\"github.com/FerretDB/FerretDB/internal/clientconn.(*conn).logResponse\",\"file\":\"clientconn/conn.go\",\"line\":625},\"msg\":\"Response message:\\n{\\n  \\\"FlagBits\\\": \\\"[]\\\",\\n  \\\"Checksum\\\": int64(0),\\n  \\\"Sections\\\": [\\n    {\\n      \\\"Kind\\\": 0,\\n      \\\"Document\\\": {\\n        \\\"ok\\\": 0.0,\\n        \\\"errmsg\\\": \\\"ns does not exist: x.nope\\\",\\n        \\\"code\\\": 26,\\n        \\\"codeName\\\": \\\"NamespaceNotFound\\\",\\n      },\\n    },\\n  ],\\n}\\n\",\"name\":\"// 127.0.0.1:55172 -> 127.0.0.1:39411 \"}";
const REPLY_HEADER_2 = "{\"time\":\"2026-12-07T06:34:43.758451473Z\",\"level\":\"WARN\",\"source\":{\"function\":\"github.com/FerretDB/FerretDB/internal/clientconn.(*conn).logResponse\",\"file\":\"clientconn/conn.go\",\"line\":624},\"msg\":\"Response header: length:   121, id:    6, response_to:    7, opcode: OP_MSG\",\"name\":\"// 127.0.0.1:55172 -> 127.0.0.1:39411 \"}";
const REPLY_END_SESSIONS = "{\"time\":\"2026-12-07T06:34:43.758540435Z\",\"level\":\"WARN\",\"source\":{\"function\":\"github.com/FerretDB/FerretDB/internal/clientconn.(*conn).logResponse\",\"file\":\"clientconn/conn.go\",\"line\":625},\"msg\":\"Response message:\\n{\\n  \\\"FlagBits\\\": \\\"[]\\\",\\n  \\\"Checksum\\\": int64(0),\\n  \\\"Sections\\\": [\\n    {\\n      \\\"Kind\\\": 0,\\n      \\\"Document\\\": {\\n        \\\"ok\\\": 0.0,\\n        \\\"errmsg\\\": \\\"no such command: 'endSessions'\\\",\\n        \\\"code\\\": 59,\\n        \\\"codeName\\\": \\\"CommandNotFound\\\",\\n      },\\n    },\\n  ],\\n}\\n\",\"name\":\"// 127.0.0.1:55172 -> 127.0.0.1:39411 \"}";
const CONNECTION_RESET_IDLE = "{\"time\":\"2026-12-07T06:34:43.759744058Z\",\"level\":\"WARN\",\"source\":{\"function\":\"github.com/FerretDB/FerretDB/internal/clientconn.acceptLoop.func1\",\"file\":\"clientconn/listener.go\",\"line\":300},\"msg\":\"Connection stopped\",\"name\":\"listener\",\"conn\":\"127.0.0.1:55172 -> 127.0.0.1:39411\",\"error\":\"[msg_body.go:62 wire.ReadMessage] [msg_header.go:68 wire.(*MsgHeader).readFrom] expected 16, read 0: read tcp 127.0.0.1:39411->127.0.0.1:55172: read: connection reset by peer\"}";
const BIND_ERROR = "{\"time\":\"2026-12-07T06:34:42.94127089Z\",\"level\":\"ERROR+3\",\"source\":{\"function\":\"main.run\",\"file\":\"ferretdb/main.go\",\"line\":565},\"msg\":\"Failed to construct listener\",\"error\":\"[listener.go:103 clientconn.Listen] listen tcp 127.0.0.1:39411: bind: address already in use\"}";
/**
 * A client closing a connection, as FerretDB 1.24 writes it (conn.go: the error formatted into the
 * message, no `error` attribute; a CI run logged this one at warn before it was recognised).
 */
const PROBE_CLOSE = JSON.stringify({
  time: '2026-12-07T07:10:12.640Z',
  level: 'WARN',
  source: { function: 'github.com/FerretDB/FerretDB/internal/clientconn.(*conn).run.func1', file: 'clientconn/conn.go', line: 167 },
  msg: 'Failed to set deadline: set tcp 127.0.0.1:34387: use of closed network connection',
  name: '// 127.0.0.1:44390 -> 127.0.0.1:34387 ',
});

describe('parseDatabaseLogLine (FerretDB)', () => {
  it('turns an error reply dumped over 16 lines into one line with its code and message, at warn', () => {
    expect(JSON.parse(REPLY_NAMESPACE_NOT_FOUND).msg.split('\n').length).toBeGreaterThan(15);
    const record = parseDatabaseLogLine('ferretdb', REPLY_NAMESPACE_NOT_FOUND);
    expect(record).toMatchObject({ level: 'warn', dbLevel: 'WARN', text: 'error reply to a client: NamespaceNotFound (26): ns does not exist: x.nope' });
    expect(record.attrs).toMatchObject({ source: 'clientconn/conn.go:625', name: '// 127.0.0.1:55172 -> 127.0.0.1:39411 ' });
    expect(record.attrs).not.toHaveProperty('time');
  });

  it('keeps the bind error as an error, with the reason in the text (the supervisor looks for "address already in use")', () => {
    const record = parseDatabaseLogLine('ferretdb', BIND_ERROR);
    expect(record.level).toBe('error');
    expect(record.dbLevel).toBe('ERROR+3');
    expect(record.text).toMatch(/^Failed to construct listener: .*listen tcp 127\.0\.0\.1:39411: bind: address already in use$/);
  });

  it('logs routine warnings one level lower: reply headers, endSessions, idle resets, the probe closing', () => {
    expect(parseDatabaseLogLine('ferretdb', REPLY_HEADER).level).toBe('debug');
    expect(parseDatabaseLogLine('ferretdb', REPLY_HEADER_2).level).toBe('debug');
    expect(parseDatabaseLogLine('ferretdb', REPLY_END_SESSIONS).level).toBe('debug');
    expect(parseDatabaseLogLine('ferretdb', CONNECTION_RESET_IDLE).level).toBe('info');
    expect(parseDatabaseLogLine('ferretdb', PROBE_CLOSE).level).toBe('info');
  });

  it('keeps a reset in the middle of a message a warning', () => {
    const midMessage = CONNECTION_RESET_IDLE.replace('expected 16, read 0', 'expected 16, read 7');
    expect(parseDatabaseLogLine('ferretdb', midMessage).level).toBe('warn');
  });

  it('maps slog levels: DEBUG-4 and DEBUG to debug, INFO to info, ERROR to error', () => {
    const at = (level: string) => parseDatabaseLogLine('ferretdb', JSON.stringify({ time: 't', level, msg: 'm' })).level;
    expect([at('DEBUG-4'), at('DEBUG'), at('INFO'), at('WARN'), at('ERROR'), at('ERROR+3')]).toEqual(['debug', 'debug', 'info', 'warn', 'error', 'error']);
  });

  it('keeps output outside the log format (a Go panic) as plain text at warn', () => {
    expect(parseDatabaseLogLine('ferretdb', 'panic: runtime error: index out of range [3] with length 3')).toEqual({
      level: 'warn',
      dbLevel: 'text',
      text: 'panic: runtime error: index out of range [3] with length 3',
      attrs: {},
    });
    expect(parseDatabaseLogLine('ferretdb', '{not json').level).toBe('warn');
  });
});

describe('parseDatabaseLogLine (mongod)', () => {
  it("reads mongod's severity and message, with its error on the same line", () => {
    const line = JSON.stringify({ t: { $date: '2026-12-07T06:00:00.000+00:00' }, s: 'E', c: 'CONTROL', id: 20568, ctx: 'initandlisten', msg: 'Error setting up listener', attr: { error: { code: 9001, codeName: 'SocketException', errmsg: 'Address already in use' } } });
    const record = parseDatabaseLogLine('mongod', line);
    expect(record.level).toBe('error');
    expect(record.text).toBe('Error setting up listener: {"code":9001,"codeName":"SocketException","errmsg":"Address already in use"}');
    expect(parseDatabaseLogLine('mongod', JSON.stringify({ s: 'I', c: 'NETWORK', msg: 'Connection accepted' })).level).toBe('info');
    expect(parseDatabaseLogLine('mongod', JSON.stringify({ s: 'D2', c: 'COMMAND', msg: 'x' })).level).toBe('debug');
  });
});

describe('shownAt', () => {
  it('shows a record at the threshold or above, nothing below', () => {
    const levels: DbLogLevel[] = ['error', 'warn', 'info', 'debug'];
    expect(levels.filter((l) => shownAt(l, 'warn'))).toEqual(['error', 'warn']);
    expect(levels.filter((l) => shownAt(l, 'error'))).toEqual(['error']);
    expect(levels.filter((l) => shownAt(l, 'debug'))).toEqual(levels);
  });
});
