import type { TMessage } from '@/db/schema';

/**
 * A message as training files carry it: `role` and `content` always; `name`, `tool_call_id` and
 * `tool_calls` only when the message has them, never null and never an empty list.
 *
 * Why not one fixed key set with nulls (or empty lists) for what a message lacks: chat templates
 * test for the key, not its value. Llama 3.1's template takes any message with a `tool_calls`
 * key for a tool call (`{% elif 'tool_calls' in message %}`) and fails on `None|length`, and on
 * an empty list it raises "This model only supports single tool-calls at once!". Other templates
 * (`{% if message.tool_calls %}`) would accept both, but a key that only some messages need must
 * be absent where it is unused. A key's type never varies either: `datasets` fixes a column's
 * type from the first lines it reads, and a null or an empty list there is typed `null`, which
 * the first real value later cannot be cast to ("Couldn't cast array of type string to null").
 */
export function trainingMessage(m: TMessage): TMessage {
  const out: TMessage = { role: m.role, content: m.content };
  if (typeof m.name === 'string') out.name = m.name;
  if (m.tool_calls && m.tool_calls.length > 0) {
    out.tool_calls = m.tool_calls.map((c) => ({
      ...(typeof c.id === 'string' ? { id: c.id } : {}),
      type: c.type,
      function: { name: c.function.name, arguments: c.function.arguments },
    }));
  }
  if (typeof m.tool_call_id === 'string') out.tool_call_id = m.tool_call_id;
  return out;
}

export function trainingMessages(messages: TMessage[]): TMessage[] {
  return messages.map(trainingMessage);
}

/** Whether a message is one plain turn: no tool calls, and not a tool's result. */
export function isPlainMessage(m: TMessage): boolean {
  return !(m.tool_calls && m.tool_calls.length > 0) && m.role !== 'tool' && m.role !== 'ipython';
}
