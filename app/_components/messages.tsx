'use client';

import { useState } from 'react';
import type { TMessage } from '@/db/schema';
import { Markdown } from './markdown';

const roleLabels: Record<TMessage['role'], string> = {
  system: 'System',
  user: 'User',
  assistant: 'Assistant',
  tool: 'Tool result',
  ipython: 'Code result',
};

/**
 * A message's text: rendered as markdown with its line breaks kept, or, on request, exactly as
 * written (every space, newline and markdown character as typed), so an annotator can check what
 * the model really wrote when the rendering is in doubt.
 */
function MessageText({ text }: { text: string }) {
  const [raw, setRaw] = useState(false);
  return (
    <div className="relative">
      <button
        type="button"
        className="float-right ml-2 rounded border border-slate-200 bg-white px-1.5 py-0.5 text-[11px] text-slate-500 hover:bg-slate-50 hover:text-slate-800"
        aria-pressed={raw}
        title={raw ? 'Show the text rendered as markdown' : 'Show the text exactly as written'}
        onClick={() => setRaw((r) => !r)}
      >
        {raw ? 'Formatted' : 'Raw text'}
      </button>
      {raw ? (
        <pre className="raw-text max-h-[40rem] overflow-auto rounded bg-slate-50 p-2 font-mono text-sm whitespace-pre-wrap" aria-label="Raw text">
          {text}
        </pre>
      ) : (
        <Markdown text={text} breaks />
      )}
    </div>
  );
}

export function MessageBody({ message }: { message: TMessage }) {
  // Imported data holds empty turns (an empty answer can be the chosen one): say so rather than show a blank box.
  const blank = message.content.trim() === '' && !message.tool_calls?.length;
  return (
    <div className="space-y-2">
      {blank && <p className="text-sm text-slate-400 italic">{message.role === 'assistant' ? '(empty response)' : '(empty message)'}</p>}
      {!blank && message.content && (message.role === 'tool' || message.role === 'ipython' ? <pre className="max-h-96 overflow-auto rounded bg-slate-100 p-2 font-mono text-xs whitespace-pre-wrap">{message.content}</pre> : <MessageText text={message.content} />)}
      {message.tool_calls?.map((call, i) => (
        <div key={call.id ?? i} className="rounded border border-slate-200 bg-slate-50 p-2 text-xs">
          <div className="font-semibold">Tool call: {call.function.name}</div>
          <pre className="mt-1 max-h-64 overflow-auto font-mono whitespace-pre-wrap">{prettyJson(call.function.arguments)}</pre>
        </div>
      ))}
    </div>
  );
}

function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** A message of a response; when a response holds several (tool call, result, answer), each is labelled. */
export function ResponseMessage({ message, several }: { message: TMessage; several: boolean }) {
  if (!several) return <MessageBody message={message} />;
  const label = message.role === 'assistant' ? (message.tool_calls?.length ? 'Assistant · tool call' : 'Assistant') : message.role === 'tool' ? 'Tool result' : message.role === 'ipython' ? 'Code result' : message.role;
  return (
    <div className="rounded border border-slate-100 p-2">
      <div className="mb-1 text-xs font-semibold tracking-wide text-slate-500 uppercase">{label}</div>
      <MessageBody message={message} />
    </div>
  );
}

/** The conversation so far: the system prompt collapsed, then every turn. */
export function Conversation({ messages }: { messages: TMessage[] }) {
  return (
    <div className="space-y-3">
      {messages.map((message, i) =>
        message.role === 'system' ? (
          <details key={i} className="rounded-md border border-slate-200 bg-white px-3 py-2 text-sm">
            <summary className="cursor-pointer text-slate-500">System prompt</summary>
            <div className="mt-2">
              <MessageBody message={message} />
            </div>
          </details>
        ) : (
          <div key={i} className={`rounded-md border px-4 py-3 ${message.role === 'user' ? 'border-blue-100 bg-blue-50' : 'border-slate-200 bg-white'}`}>
            <div className="mb-1 text-xs font-semibold tracking-wide text-slate-500 uppercase">{roleLabels[message.role]}</div>
            <MessageBody message={message} />
          </div>
        ),
      )}
    </div>
  );
}
