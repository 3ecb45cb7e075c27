'use client';

import { useEffect, useRef } from 'react';

/**
 * Where the annotator writes the next user turn. Enter sends, Shift+Enter starts a new line.
 * The text stays here until the server has accepted it, so a failed send loses nothing.
 */
export function LiveComposer({
  value,
  onChange,
  onSend,
  sending,
  continuing,
}: {
  value: string;
  onChange: (text: string) => void;
  onSend: () => void;
  sending: boolean;
  continuing: boolean;
}) {
  const input = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    input.current?.focus();
  }, []);
  const canSend = value.trim().length > 0 && !sending;
  return (
    <form
      className="mt-4 rounded-lg border border-slate-200 bg-white p-4"
      onSubmit={(e) => {
        e.preventDefault();
        if (canSend) onSend();
      }}
    >
      <h2 className="mb-2 font-semibold">{continuing ? 'Next message' : 'Start a conversation'}</h2>
      <label className="block">
        <span className="mb-1 block text-sm text-slate-600">Your message</span>
        <textarea
          ref={input}
          value={value}
          onChange={(e) => onChange(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
              e.preventDefault();
              if (canSend) onSend();
            }
          }}
          rows={4}
          placeholder={continuing ? 'Continue the conversation…' : 'Write a prompt for the models…'}
          className="w-full rounded border border-slate-300 px-3 py-2"
        />
      </label>
      <div className="mt-2 flex items-center justify-between gap-3">
        <span className="text-xs text-slate-500">Enter sends · Shift+Enter for a new line. Two models answer; you judge which is better.</span>
        <button type="submit" disabled={!canSend} className="rounded bg-slate-900 px-5 py-2 font-medium text-white disabled:cursor-not-allowed disabled:opacity-40">
          {sending ? 'Sending…' : 'Send'}
        </button>
      </div>
    </form>
  );
}
