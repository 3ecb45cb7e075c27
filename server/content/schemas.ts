import { z } from 'zod';
import { messageRoles, type TMessage } from '@/db/schema';

export const ZMessageRole = z.enum(messageRoles);

const ZToolCall = z.object({
  id: z.string().optional(),
  type: z.literal('function').default('function'),
  function: z.object({
    name: z.string().min(1, 'must not be empty'),
    // OpenAI sends arguments as a JSON string; some exporters write the object itself.
    arguments: z.union([z.string(), z.record(z.string(), z.unknown()).transform((o) => JSON.stringify(o))]),
  }),
});

export const ZMessage = z
  .object({
    role: ZMessageRole,
    content: z.string().nullable().default(''),
    name: z.string().optional(),
    tool_calls: z.array(ZToolCall).optional(),
    tool_call_id: z.string().optional(),
  })
  .transform((m): TMessage => {
    const out: TMessage = { role: m.role, content: m.content ?? '' };
    if (m.name !== undefined) out.name = m.name;
    if (m.tool_calls?.length) out.tool_calls = m.tool_calls;
    if (m.tool_call_id !== undefined) out.tool_call_id = m.tool_call_id;
    return out;
  });

/**
 * Empty content is data, kept as it is: real preference sets (HH-RLHF among them) hold empty
 * assistant turns, and an empty answer can be the chosen one. Only a prompt needs some text
 * (see ZPromptInput).
 */
export const ZMessages = z.array(ZMessage).min(1, 'must hold at least one message');

/** True when some message of a prompt has text or tool calls: a prompt of blank turns asks nothing. */
export function hasPromptText(messages: TMessage[]): boolean {
  return messages.some((m) => m.content.trim().length > 0 || (m.tool_calls?.length ?? 0) > 0);
}

/**
 * A string (one turn of `role`) or a list of messages. Hand-rolled rather than z.union so
 * that a bad message reports its own path and reason, not "invalid input" for the union.
 */
function textOrMessages(role: 'user' | 'assistant') {
  return z.unknown().transform((value, ctx): TMessage[] => {
    if (typeof value === 'string') {
      if (role === 'assistant' || value.trim().length > 0) return [{ role, content: value }];
      ctx.addIssue({ code: 'custom', message: 'must not be empty' });
      return z.NEVER;
    }
    if (!Array.isArray(value)) {
      ctx.addIssue({ code: 'custom', message: 'must be a string or a list of messages' });
      return z.NEVER;
    }
    const parsed = ZMessages.safeParse(value);
    if (parsed.success && role === 'user' && !hasPromptText(parsed.data)) {
      ctx.addIssue({ code: 'custom', message: 'must not be empty: every message is blank' });
      return z.NEVER;
    }
    if (parsed.success) return parsed.data;
    for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
    return z.NEVER;
  });
}

/** A prompt given as a plain string is one user turn; blank turns are kept, but not a prompt of nothing else. */
export const ZPromptInput = textOrMessages('user');

/** A response given as a plain string is one assistant turn, empty or not. */
export const ZResponseContent = textOrMessages('assistant');
