/**
 * Canned replies (快捷回复): texts staff insert into the reply box, per language, with variables
 * such as {ticketNumber}. Kept in one small document (`_id` = `all`): the list is short (bounded
 * by {@link CANNED_REPLIES_MAX}), read whole by every reply box, and edited by admins.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from 'mongodb';
import { z } from 'zod';
import { NotFoundError, ValidationError } from './errors.js';
import { JsonDocs } from './json-docs.js';

/** Languages of canned replies (the customer's reply languages). */
export const CANNED_LANGS = ['zh-Hans', 'zh-Hant', 'en'] as const;

/** The variables a canned reply may use, filled from the ticket and the agent. */
export const CANNED_VARIABLES = ['ticketNumber', 'customerName', 'agentName', 'topic'] as const;
export type CannedVariable = (typeof CANNED_VARIABLES)[number];

/** Canned replies kept at most (the reply box lists them all). */
export const CANNED_REPLIES_MAX = 500;

export const CannedReplyInputSchema = z
  .object({
    lang: z.enum(CANNED_LANGS),
    title: z.string().trim().min(1).max(60),
    text: z.string().trim().min(1).max(2000),
  })
  .strict();
export type CannedReplyInput = z.infer<typeof CannedReplyInputSchema>;

export interface CannedReply extends CannedReplyInput {
  id: string;
  updatedBy: string;
  updatedAt: string;
}

interface CannedDoc {
  items: CannedReply[];
}

/** The `{name}` variables a text uses. */
export function variablesOf(text: string): string[] {
  return [...new Set([...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]))];
}

/** Fills `{name}` variables; every variable must be known (checked when the reply is saved). */
export function fillCanned(text: string, values: Readonly<Record<CannedVariable, string>>): string {
  return text.replace(/\{(\w+)\}/g, (m, k: string) => ((CANNED_VARIABLES as readonly string[]).includes(k) ? values[k as CannedVariable] : m));
}

function checkVariables(text: string): void {
  const unknown = variablesOf(text).filter((v) => !(CANNED_VARIABLES as readonly string[]).includes(v));
  if (unknown.length > 0) {
    throw new ValidationError(`invalid canned reply: unknown variable ${unknown.map((v) => `{${v}}`).join(', ')}; use ${CANNED_VARIABLES.map((v) => `{${v}}`).join(', ')}`, [{ path: 'text', message: 'unknown variable' }]);
  }
}

export class MongoCannedReplyRepository {
  private readonly docs: JsonDocs<CannedDoc>;

  constructor(db: Db) {
    this.docs = new JsonDocs<CannedDoc>(db, 'cannedReplies', () => ({ items: [] }));
  }

  /** Every canned reply (or those of one language), ordered by language, then title. */
  async list(lang?: string): Promise<CannedReply[]> {
    const items = (await this.docs.get('all'))?.items ?? [];
    return items.filter((c) => !lang || c.lang === lang).sort((a, b) => (a.lang === b.lang ? a.title.localeCompare(b.title, 'zh') : a.lang < b.lang ? -1 : 1));
  }

  async create(input: CannedReplyInput, by: string, at = new Date()): Promise<CannedReply> {
    checkVariables(input.text);
    const item: CannedReply = { id: randomUUID(), ...input, updatedBy: by, updatedAt: at.toISOString() };
    const out = { full: false };
    await this.docs.update('all', (d) => {
      out.full = d.items.length >= CANNED_REPLIES_MAX;
      if (!out.full) d.items.push(item);
    });
    if (out.full) throw new ValidationError(`too many canned replies: at most ${CANNED_REPLIES_MAX}; delete unused ones first`, [{ path: 'body', message: 'limit reached' }]);
    return item;
  }

  async update(id: string, input: CannedReplyInput, by: string, at = new Date()): Promise<CannedReply> {
    checkVariables(input.text);
    const out: { found: CannedReply | null } = { found: null };
    await this.docs.update('all', (d) => {
      const i = d.items.findIndex((c) => c.id === id);
      if (i >= 0) d.items[i] = out.found = { ...d.items[i], ...input, updatedBy: by, updatedAt: at.toISOString() };
    });
    if (!out.found) throw new NotFoundError(`canned reply ${id} not found`);
    return out.found;
  }

  async delete(id: string): Promise<void> {
    const out = { found: false };
    await this.docs.update('all', (d) => {
      const before = d.items.length;
      d.items = d.items.filter((c) => c.id !== id);
      out.found = d.items.length < before;
    });
    if (!out.found) throw new NotFoundError(`canned reply ${id} not found`);
  }
}
