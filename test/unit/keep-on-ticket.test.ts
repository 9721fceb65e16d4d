/**
 * A channel's media kept after the turn goes on the customer's ticket as stored: the number is
 * resolved at each attempt (the outbox replay may store the ticket under a new number), and while
 * the ticket still waits in the outbox the attempt fails as an outage and is tried again. The
 * real-database version: test/security/wecom-outage.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { keepOnTicket, storedTicketNumber } from '../../channels/media.js';
import type { AttachmentCreate } from '../../store/attachment-repository.js';
import { isUnavailable, TicketNotFiledError } from '../../store/errors.js';
import type { Ticket } from '../../store/schemas.js';

const me = { channelId: 'wecom', userId: 'wm-customer' };
const item: AttachmentCreate = { ticketNumber: 'T20261207-0002', filename: 'a.png', contentType: 'image/png', size: 3, content: Buffer.from('abc'), note: null, channelId: 'wecom', messageRef: 'm1' };

describe('keeping channel media on a ticket still in the outbox', () => {
  it('waits while the ticket waits, then keeps the file under the number the ticket is stored under', async () => {
    const asked: { number: string; customer: typeof me }[] = [];
    // Two attempts find the ticket still in the outbox; the third finds it stored under a new number.
    const answers: (Ticket | null)[] = [null, null, { number: 'T20261207-0003', formerNumber: 'T20261207-0002' } as Ticket];
    const tickets = { filedFor: async (number: string, customer: typeof me) => (asked.push({ number, customer }), answers.shift() ?? null) };
    const added: AttachmentCreate[] = [];
    const waits: number[] = [];
    await keepOnTicket({ add: async (items) => void added.push(...items) }, item, 'wecom:m1', async (ms) => void waits.push(ms), 5, storedTicketNumber(tickets, me));
    expect(asked).toEqual([0, 1, 2].map(() => ({ number: 'T20261207-0002', customer: me })));
    expect(waits).toEqual([1000, 2000]);
    expect(added).toEqual([{ ...item, ticketNumber: 'T20261207-0003' }]);
  });

  it('gives up after its attempts with an error callers treat as an outage, having stored nothing', async () => {
    const added: AttachmentCreate[] = [];
    const kept = keepOnTicket({ add: async (items) => void added.push(...items) }, item, 'wecom:m1', async () => undefined, 2, storedTicketNumber({ filedFor: async () => null }, me));
    await expect(kept).rejects.toBeInstanceOf(TicketNotFiledError);
    await expect(kept).rejects.toThrow(/T20261207-0002 is not stored yet/);
    expect(isUnavailable(new TicketNotFiledError('x'))).toBe(true);
    expect(added).toEqual([]);
  });
});
