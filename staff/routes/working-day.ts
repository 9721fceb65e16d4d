/**
 * The agent's working day beside the tickets: who can be assigned, canned replies (快捷回复, kept
 * in the database and managed by admins, filled for a ticket from the reply box) and the
 * notifications of the signed-in user.
 */
import { z } from 'zod';
import { names, REPLY_LANGS, type ReplyLang } from '../../bot/messages.js';
import { CannedReplyInputSchema, fillCanned } from '../../store/canned-reply-repository.js';
import { TicketNumber } from '../../store/schemas.js';
import type { StaffDeps } from '../deps.js';
import type { ApiRouter } from '../http.js';

const IdParams = z.object({ id: z.string().uuid() }).strict();
const LangQuery = z.object({ lang: z.enum(REPLY_LANGS).optional() }).strict();
const ReadBody = z.object({ ids: z.array(z.string().uuid()).min(1).max(200).optional() }).strict();

/** The reply language of a ticket: its customer's language (other scripts get English). */
function ticketLang(lang: string): ReplyLang {
  return lang === 'zh-Hant' ? 'zh-Hant' : lang === 'en' || lang === 'other' ? 'en' : 'zh-Hans';
}

export function registerWorkingDayRoutes(router: ApiRouter, deps: StaffDeps): void {
  const { store, taxonomy, services } = deps;

  router.add({
    method: 'get',
    path: '/api/assignees',
    summary: 'Staff accounts a ticket can be assigned to (active users, any role)',
    tag: 'tickets',
    role: 'agent',
    handler: async () => ({
      body: { items: (await store.users.list()).filter((u) => !u.disabled).map((u) => ({ username: u.username, role: u.role })) },
    }),
  });

  router.add({
    method: 'get',
    path: '/api/canned-replies',
    summary: 'Canned replies (快捷回复), all or of one language, with their {variables} unfilled',
    tag: 'canned-replies',
    role: 'agent',
    query: LangQuery,
    handler: async ({ query }) => ({ body: { items: await store.cannedReplies.list(query.lang) } }),
  });

  router.add({
    method: 'post',
    path: '/api/canned-replies',
    summary: 'Adds a canned reply (variables: {ticketNumber}, {customerName}, {agentName}, {topic})',
    tag: 'canned-replies',
    role: 'admin',
    body: CannedReplyInputSchema,
    responses: { 201: 'the canned reply', 400: 'invalid input or an unknown variable' },
    handler: async ({ body, principal }) => {
      const c = await store.cannedReplies.create(body, principal!.username);
      await services.tickets.auditAfterChange(principal!.username, 'canned.create', c.id, { lang: c.lang, title: c.title });
      return { status: 201, body: c };
    },
  });

  router.add({
    method: 'put',
    path: '/api/canned-replies/{id}',
    summary: 'Changes a canned reply',
    tag: 'canned-replies',
    role: 'admin',
    params: IdParams,
    body: CannedReplyInputSchema,
    responses: { 200: 'the canned reply', 404: 'no such canned reply' },
    handler: async ({ params, body, principal }) => {
      const c = await store.cannedReplies.update(params.id, body, principal!.username);
      await services.tickets.auditAfterChange(principal!.username, 'canned.update', c.id, { lang: c.lang, title: c.title });
      return { body: c };
    },
  });

  router.add({
    method: 'delete',
    path: '/api/canned-replies/{id}',
    summary: 'Deletes a canned reply',
    tag: 'canned-replies',
    role: 'admin',
    params: IdParams,
    responses: { 204: 'deleted', 404: 'no such canned reply' },
    handler: async ({ params, principal }) => {
      await store.cannedReplies.delete(params.id);
      await services.tickets.auditAfterChange(principal!.username, 'canned.delete', params.id);
      return { status: 204 };
    },
  });

  router.add({
    method: 'get',
    path: '/api/tickets/{number}/canned-replies',
    summary: "Canned replies filled for a ticket (its number, the customer's name, your name, its topic), in the customer's language unless lang is given",
    tag: 'canned-replies',
    role: 'agent',
    params: z.object({ number: TicketNumber }).strict(),
    query: LangQuery,
    responses: { 200: '{lang, items: [{id, title, text}]}', 404: 'no such ticket' },
    handler: async ({ params, query, principal }) => {
      const t = await deps.services.tickets.get(params.number);
      const lang = query.lang ?? ticketLang(t.lang);
      const n = names(taxonomy, lang);
      const values = {
        ticketNumber: t.number,
        customerName: t.customer.name ?? (lang === 'en' ? 'customer' : lang === 'zh-Hant' ? '客戶' : '客户'),
        agentName: principal!.username,
        topic: t.topic ? n.topic(t.topic) : '',
      };
      const items = (await store.cannedReplies.list(lang)).map((c) => ({ id: c.id, title: c.title, text: fillCanned(c.text, values) }));
      return { body: { lang, items } };
    },
  });

  router.add({
    method: 'get',
    path: '/api/notifications',
    summary: 'Your notifications (assigned to you, a customer replied on your ticket), newest first, with the unread count',
    tag: 'notifications',
    role: 'agent',
    handler: async ({ principal }) => ({ body: await store.notifications.list(principal!.username) }),
  });

  router.add({
    method: 'post',
    path: '/api/notifications/read',
    summary: 'Marks your notifications read (the given ids, or all)',
    tag: 'notifications',
    role: 'agent',
    body: ReadBody,
    handler: async ({ body, principal }) => ({ body: { unread: await store.notifications.markRead(principal!.username, body.ids) } }),
  });
}
