/**
 * Files a customer sent with a ticket (e-mail attachments; any channel's files may use it), in
 * their own collection so ticket reads never carry their bytes. One document per file: ticket
 * number, file name, content type, size, and the bytes when they fit under the channel's cap. A
 * file over the cap is still listed, without bytes and with a note saying where it is: nothing is
 * dropped silently.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Binary, type Collection, type Db } from 'mongodb';
import { ensureIndexes } from './indexes.js';

/** An attachment as listed to staff (no bytes). */
export interface AttachmentInfo {
  id: string;
  ticketNumber: string;
  filename: string;
  contentType: string;
  /** Size of the file as the customer sent it, in bytes. */
  size: number;
  /** Whether the bytes are kept here (false: over the size cap; `note` says where it is). */
  stored: boolean;
  note: string | null;
  /** Where it came from: `email`, `wechat` … */
  channelId: string;
  /** The message it came with (an e-mail's Message-ID), for staff to find it at the source. */
  messageRef: string | null;
  inline: boolean;
  createdAt: Date;
}

/** A new attachment: its bytes (null when not kept) and what to list. */
export interface AttachmentCreate {
  ticketNumber: string;
  filename: string;
  contentType: string;
  size: number;
  content: Buffer | null;
  note: string | null;
  channelId: string;
  messageRef: string | null;
  inline?: boolean;
}

/** `position`: order within the message (files of one message share `createdAt`). */
type AttachmentDoc = Omit<AttachmentInfo, 'id'> & { _id: string; position: number; content: Binary | null };

/** An attachment id: 24 lower-case hex characters. */
export const ATTACHMENT_ID = /^[0-9a-f]{24}$/;

export class MongoAttachmentRepository {
  private readonly files: Collection<AttachmentDoc>;

  constructor(db: Db) {
    this.files = db.collection<AttachmentDoc>('attachments');
  }

  async ensureIndexes(): Promise<void> {
    await ensureIndexes(this.files, [{ key: { ticketNumber: 1, createdAt: 1, position: 1 }, name: 'ticket' }]);
  }

  /**
   * Stores attachments. `key` makes it idempotent: the same key and position give the same id, so a
   * retried message does not store its files twice.
   */
  async add(items: AttachmentCreate[], key?: string): Promise<AttachmentInfo[]> {
    const out: AttachmentInfo[] = [];
    const at = new Date();
    for (const [i, a] of items.entries()) {
      const id = key ? idFor(`${key}#${i}`) : randomBytes(12).toString('hex');
      const doc: AttachmentDoc = {
        _id: id,
        ticketNumber: a.ticketNumber,
        filename: a.filename,
        contentType: a.contentType,
        size: a.size,
        stored: a.content !== null,
        note: a.note,
        channelId: a.channelId,
        messageRef: a.messageRef,
        inline: a.inline ?? false,
        createdAt: at,
        position: i,
        content: a.content === null ? null : new Binary(a.content),
      };
      await this.files.replaceOne({ _id: id }, doc, { upsert: true });
      out.push(toInfo(doc));
    }
    return out;
  }

  /** A ticket's attachments, oldest first, without their bytes. */
  async list(ticketNumber: string): Promise<AttachmentInfo[]> {
    const docs = await this.files.find({ ticketNumber }, { projection: { content: 0 } }).sort({ createdAt: 1, position: 1 }).toArray();
    return docs.map((d) => toInfo(d));
  }

  /** One attachment of a ticket with its bytes (null bytes when it was over the cap), or null. */
  async get(ticketNumber: string, id: string): Promise<{ info: AttachmentInfo; content: Buffer | null } | null> {
    if (!ATTACHMENT_ID.test(id)) return null;
    const d = await this.files.findOne({ _id: id, ticketNumber });
    if (!d) return null;
    return { info: toInfo(d), content: d.content ? Buffer.from(d.content.buffer) : null };
  }
}

function toInfo(d: Omit<AttachmentDoc, 'content'> & { content?: unknown }): AttachmentInfo {
  return {
    id: d._id,
    ticketNumber: d.ticketNumber,
    filename: d.filename,
    contentType: d.contentType,
    size: d.size,
    stored: d.stored,
    note: d.note,
    channelId: d.channelId,
    messageRef: d.messageRef,
    inline: d.inline,
    createdAt: d.createdAt,
  };
}

/** A stable 24-hex id for a key (sha-256, truncated). */
function idFor(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 24);
}
