/**
 * Reading a channel's `media/get` answer (WeChat's and WeCom's temporary media share the shape):
 * the file's bytes under its own content type, or a JSON error body. Bytes are read only up to a
 * cap, so a huge file is refused without being held in memory.
 */
import type { AttachmentCreate } from '../store/attachment-repository.js';
import { TicketNotFiledError } from '../store/errors.js';
import type { Ticket } from '../store/schemas.js';

/** The bytes of a media file and what the channel said about them. */
export interface ChannelMedia {
  content: Buffer;
  /** The content type the channel gave, lower case, without parameters. */
  contentType: string;
  /** The file name from Content-Disposition, made safe to list and to send back in a header. */
  filename: string | null;
}

/** The media is larger than the cap (`size` as declared or as read so far). */
export class MediaTooLarge extends Error {
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(`media is ${size} bytes, over the ${limit}-byte limit`);
  }
}

/**
 * The media of a `media/get` response, or `{ json }` when the channel answered with JSON (an error
 * code, for the caller's own error handling).
 */
export async function readMedia(res: Response, maxBytes: number): Promise<ChannelMedia | { json: Record<string, unknown> }> {
  const type = (res.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
  if (type === 'application/json' || type === 'text/plain') return { json: (await res.json()) as Record<string, unknown> };
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel();
    throw new MediaTooLarge(declared, maxBytes);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body ?? []) {
    size += (chunk as Uint8Array).length;
    if (size > maxBytes) throw new MediaTooLarge(size, maxBytes);
    chunks.push(Buffer.from(chunk as Uint8Array));
  }
  const disposition = res.headers.get('content-disposition') ?? '';
  const raw = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition)?.[1];
  let filename: string | null = null;
  if (raw) {
    try {
      filename = decodeURIComponent(raw);
    } catch {
      filename = raw;
    }
    filename = filename.replace(/[\\/\x00-\x1f"]/g, '_').slice(0, 200);
  }
  return { content: Buffer.concat(chunks), contentType: type || 'application/octet-stream', filename };
}

/** A file extension for a few content types channels send, for a name when the channel gave none. */
export function extensionOf(contentType: string): string {
  return ({ 'image/jpeg': '.jpg', 'image/png': '.png', 'image/gif': '.gif', 'audio/amr': '.amr', 'audio/silk': '.silk', 'audio/mpeg': '.mp3', 'video/mp4': '.mp4' } as Record<string, string>)[contentType] ?? '';
}

/**
 * The number a customer's ticket is stored under, for what a channel keeps on it after the turn:
 * a ticket the turn filed into the outbox has a provisional number, which the replay may give
 * another customer's ticket (the customer's is then stored under a new one). Replays the
 * customer's waiting outbox tickets first (desk/tickets.ts filedFor); TicketNotFiledError while
 * the ticket still waits there.
 */
export function storedTicketNumber(tickets: { filedFor(number: string, customer: { channelId: string; userId: string }): Promise<Ticket | null> }, customer: { channelId: string; userId: string }): (number: string) => Promise<string> {
  return async (number) => {
    const t = await tickets.filedFor(number, customer);
    if (!t) throw new TicketNotFiledError(`ticket ${number} is not stored yet (it waits in the outbox)`);
    return t.number;
  };
}

/**
 * Stores a channel's media file on a ticket, idempotently by `key` (a retried message stores it
 * once), trying again with backoff while the database is unreachable; throws the last error after
 * `attempts`. `wait` lets the channel cut the waits short when it closes. `ticketOf` gives the
 * number the ticket is stored under ({@link storedTicketNumber}), read at each attempt: never the
 * number another customer's ticket may hold by then.
 */
export async function keepOnTicket(attachments: { add(items: AttachmentCreate[], key?: string): Promise<unknown> }, item: AttachmentCreate, key: string, wait: (ms: number) => Promise<void>, attempts: number, ticketOf: (number: string) => Promise<string>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await attachments.add([{ ...item, ticketNumber: await ticketOf(item.ticketNumber) }], key);
      return;
    } catch (err) {
      if (attempt >= attempts) throw err;
      await wait(Math.min(1000 * 2 ** (attempt - 1), 30_000));
    }
  }
}
