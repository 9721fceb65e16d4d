/**
 * The bot's side of replaying a message kept during a database outage (store/held-messages.ts,
 * desk/tickets.ts `replayHeld`): once the database is back, the conversation's state can be read
 * again, and a kept "对" / "跳过" / phone number is seen for what it answered — the demand the intake
 * dialog still holds. That demand is filed by the desk; here the dialog is then ended on the ticket,
 * as if the dialog had filed it (the conversation's next messages are follow-ups on it), or on
 * nothing for a kept "取消" (as the dialog would have cancelled), unless the
 * customer moved the conversation on meanwhile (a conditional write: another turn wins).
 */
import type { Storage, StoreItems } from 'botbuilder';
import type { Classification } from '../classifier/demand-classifier.js';
import type { HeldConversations, HeldDraft } from '../desk/tickets.js';
import { ConflictError } from '../store/errors.js';
import type { HeldMessage } from '../store/held-messages.js';
import type { Ticket } from '../store/schemas.js';
import { INTAKE_DIALOG, type TicketContext } from './intake-dialog.js';

/** Where botbuilder's ConversationState keeps a conversation (its storage key, default namespace). */
function stateKey(m: HeldMessage): string {
  return `${m.ticket.customer.channelId}/conversations/${m.conversationId}/`;
}

type Json = Record<string, unknown>;
const isObject = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x);

/** The intake dialog's draft (its waterfall's values: text, classification, topic, type, contact), if the dialog is active. */
export function draftIn(state: Json | undefined): HeldDraft | null {
  const stack = isObject(state?.dialogState) ? (state.dialogState as Json).dialogStack : undefined;
  if (!Array.isArray(stack) || stack.length === 0) return null;
  const top = stack[0] as Json;
  if (top?.id !== INTAKE_DIALOG || !isObject(top.state)) return null;
  // ComponentDialog → its inner waterfall's state.
  const inner = isObject(top.state.dialogs) ? (top.state.dialogs as Json).dialogStack : undefined;
  const waterfall = Array.isArray(inner) ? (inner[0] as Json | undefined) : undefined;
  const values = isObject(waterfall?.state) ? (waterfall.state as Json).values : undefined;
  if (!isObject(values) || typeof values.text !== 'string' || values.text.trim() === '' || !isObject(values.classification)) return null;
  const contact = isObject(values.contact) ? (values.contact as HeldDraft['contact']) : undefined;
  return {
    text: values.text,
    classification: values.classification as unknown as Classification,
    topic: typeof values.topic === 'string' ? values.topic : null,
    type: typeof values.type === 'string' ? values.type : null,
    ...(contact ? { contact } : {}),
  };
}

/** Held-message replay over the bot's conversation state storage. */
export function heldConversations(storage: Storage): HeldConversations {
  const read = async (key: string): Promise<Json | undefined> => ((await storage.read([key])) as StoreItems)[key] as Json | undefined;
  return {
    async draftOf(m) {
      return draftIn(await read(stateKey(m)));
    },
    async settle(m: HeldMessage, draft: HeldDraft, ticket: Ticket | null) {
      const key = stateKey(m);
      for (let attempt = 0; attempt < 3; attempt++) {
        const state = await read(key);
        // Ended already (an earlier replay), or the customer went on with the conversation.
        if (draftIn(state)?.text !== draft.text) return;
        const about: TicketContext | undefined = ticket ? { number: ticket.number, topic: ticket.topic } : undefined;
        try {
          // Carries the eTag it was read with: a turn written meanwhile makes this a conflict.
          await storage.write({ [key]: { ...state, dialogState: { dialogStack: [] }, ...(about ? { ticket: about } : {}) } });
          return;
        } catch (err) {
          if (!(err instanceof ConflictError)) throw err;
        }
      }
    },
  };
}
