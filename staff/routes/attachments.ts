/**
 * Files customers sent with a ticket (e-mail attachments, WeChat and WeCom media): the list (names, types, sizes, whether
 * the bytes are kept or why not) and the download. The bytes are always sent as a download
 * (`Content-Disposition: attachment`, `application/octet-stream`, `nosniff`): a customer's HTML or
 * SVG file must never run as a page of the console's origin.
 */
import { z } from 'zod';
import { NotFoundError } from '../../store/errors.js';
import { ATTACHMENT_ID } from '../../store/attachment-repository.js';
import { TicketNumber } from '../../store/schemas.js';
import type { StaffDeps } from '../deps.js';
import { HttpError, type ApiRouter } from '../http.js';

const ListParams = z.object({ number: TicketNumber }).strict();
const FileParams = z.object({ number: TicketNumber, id: z.string().regex(ATTACHMENT_ID, 'attachment id: 24 hex characters') }).strict();

/** `filename*=` per RFC 6266/5987, with a plain ASCII fallback. */
function contentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}

export function registerAttachmentRoutes(router: ApiRouter, deps: StaffDeps): void {
  const files = deps.store.attachments;
  router.add({
    method: 'get',
    path: '/api/tickets/{number}/attachments',
    summary: "Files the customer sent with the ticket (e-mail attachments, WeChat and WeCom media): name, type, size, and whether the bytes are kept (over the size cap: a note says where the file is)",
    tag: 'tickets',
    role: 'agent',
    params: ListParams,
    handler: async ({ params }) => {
      // A ticket that does not exist is a 404, not an empty list.
      await deps.services.tickets.get(params.number);
      return { body: { items: await files.list(params.number) } };
    },
  });
  router.add({
    method: 'get',
    path: '/api/tickets/{number}/attachments/{id}',
    summary: 'Downloads one attachment of the ticket (always as a download, application/octet-stream)',
    tag: 'tickets',
    role: 'agent',
    params: FileParams,
    responses: { 200: 'the file', 404: 'no such ticket or attachment', 410: 'listed but not kept (over the size cap; the note says where it is)' },
    handler: async ({ params }) => {
      const f = await files.get(params.number, params.id);
      if (!f) throw new NotFoundError(`ticket ${params.number} has no attachment ${params.id}`);
      if (!f.content) throw new HttpError(410, 'NOT_STORED', f.info.note ?? 'this attachment was not kept');
      return {
        body: f.content,
        headers: {
          'Content-Type': 'application/octet-stream',
          'Content-Disposition': contentDisposition(f.info.filename),
          'X-Content-Type-Options': 'nosniff',
          'X-Original-Content-Type': f.info.contentType.replace(/[^\x20-\x7e]/g, ''),
          'Content-Length': String(f.content.length),
        },
      };
    },
  });
}
