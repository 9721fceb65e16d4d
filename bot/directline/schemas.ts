/**
 * Request shapes of the Direct Line endpoints (zod). Unknown fields are dropped, so a client cannot
 * set channel-owned fields such as serviceUrl, channelId, recipient, conversation, callerId or
 * deliveryMode; a wrong type of a known field is a 400 naming it.
 */
import { z } from 'zod';

const ChannelAccountInput = z.object({
  id: z.string().min(1).max(256),
  name: z.string().max(256).optional(),
});

/** An activity a web chat client posts. `from.id` is accepted but the conversation's user wins. */
export const ClientActivitySchema = z.object({
  type: z.enum(['message', 'event', 'typing', 'messageReaction']),
  from: ChannelAccountInput.optional(),
  text: z.string().optional(),
  textFormat: z.enum(['plain', 'markdown', 'xml']).optional(),
  locale: z.string().max(64).optional(),
  localTimestamp: z.string().max(64).optional(),
  localTimezone: z.string().max(128).optional(),
  attachments: z
    .array(
      z.object({
        contentType: z.string().max(256),
        contentUrl: z.string().max(2048).optional(),
        content: z.unknown().optional(),
        name: z.string().max(256).optional(),
        thumbnailUrl: z.string().max(2048).optional(),
      }),
    )
    .max(20)
    .optional(),
  attachmentLayout: z.string().max(32).optional(),
  channelData: z.record(z.string(), z.unknown()).optional(),
  value: z.unknown().optional(),
  valueType: z.string().max(256).optional(),
  name: z.string().max(256).optional(),
  entities: z.array(z.record(z.string(), z.unknown())).max(50).optional(),
  speak: z.string().optional(),
  inputHint: z.string().max(32).optional(),
  summary: z.string().optional(),
  replyToId: z.string().max(512).optional(),
  reactionsAdded: z.array(z.object({ type: z.string().max(64) })).max(20).optional(),
  reactionsRemoved: z.array(z.object({ type: z.string().max(64) })).max(20).optional(),
});
export type ClientActivity = z.infer<typeof ClientActivitySchema>;

/** `POST /conversations` (directlinejs sends `{user: {id?}, locale?}`). */
export const StartConversationSchema = z.object({
  user: z.object({ id: z.string().min(1).max(256).optional(), name: z.string().max(256).optional() }).optional(),
  locale: z.string().max(64).optional(),
});

/** `POST /tokens/generate` (a user id only with the secret). */
export const GenerateTokenSchema = z.object({
  user: z.object({ id: z.string().min(1).max(256), name: z.string().max(256).optional() }).optional(),
});

/** An activity the bot sends (anything a Bot Framework activity may hold, with a type). */
export const BotActivitySchema = z.looseObject({
  type: z.string().min(1).max(64),
  from: z.looseObject({ id: z.string().max(256).optional() }).optional(),
});
