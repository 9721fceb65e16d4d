/**
 * Notifications for staff: one small document per user (`_id` = the user name) holding their most
 * recent notifications, newest first, so the console's unread count and list are one read by `_id`
 * (the read FerretDB answers without scanning), whatever the history.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from 'mongodb';
import { JsonDocs } from './json-docs.js';

/** Assigned to you; the customer wrote on your ticket; the customer rated your ticket. */
export const NOTIFICATION_KINDS = ['assigned', 'customer-replied', 'rated'] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

/** One notification as stored and returned (`at` as an ISO string: the document is JSON). */
export interface StaffNotification {
  id: string;
  kind: NotificationKind;
  ticket: string;
  /** Who caused it (the assigning colleague); null for the customer. */
  by: string | null;
  at: string;
  read: boolean;
}

interface Inbox {
  items: StaffNotification[];
}

/** Notifications kept per user; older ones are dropped (they are about tickets, which stay). */
export const NOTIFICATIONS_KEPT = 200;

export class MongoNotificationRepository {
  private readonly docs: JsonDocs<Inbox>;

  constructor(db: Db) {
    this.docs = new JsonDocs<Inbox>(db, 'notifications', () => ({ items: [] }));
  }

  /** Adds a notification for `username`. */
  async add(username: string, n: { kind: NotificationKind; ticket: string; by: string | null; at: Date }): Promise<void> {
    const item: StaffNotification = { id: randomUUID(), kind: n.kind, ticket: n.ticket, by: n.by, at: n.at.toISOString(), read: false };
    await this.docs.update(username, (d) => {
      d.items.unshift(item);
      if (d.items.length > NOTIFICATIONS_KEPT) d.items.length = NOTIFICATIONS_KEPT;
    });
  }

  /** The user's notifications, newest first, and how many are unread. */
  async list(username: string): Promise<{ items: StaffNotification[]; unread: number }> {
    const items = (await this.docs.get(username))?.items ?? [];
    return { items, unread: items.filter((i) => !i.read).length };
  }

  /** Marks the given notifications (or all, without ids) as read; returns the unread count left. */
  async markRead(username: string, ids?: readonly string[]): Promise<number> {
    const out = { unread: 0 };
    await this.docs.update(username, (d) => {
      for (const i of d.items) if (!ids || ids.includes(i.id)) i.read = true;
      out.unread = d.items.filter((i) => !i.read).length;
    });
    return out.unread;
  }
}
