/**
 * The raw HTTP pieces the webhook channels share (WeChat's and WeCom's callbacks sign and encrypt
 * the raw body, so they read it themselves rather than through the server's body parsers).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** A refusal of a callback: its HTTP status and the reason (logged; the body says it briefly). */
export class CallbackRefused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Answers with a text body unless an answer has already gone out. */
export function send(res: ServerResponse, status: number, type: string, body: string): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'Content-Type': `${type}; charset=utf-8`, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** The raw body as UTF-8, refusing more than `limit` bytes (413) without reading the rest. */
export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new CallbackRefused(413, `body larger than ${limit} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.pause();
        reject(new CallbackRefused(413, `body larger than ${limit} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
