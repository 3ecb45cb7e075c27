'use client';

import { useCallback, useEffect, useRef, useState } from 'react';
import { Conversation, ResponseMessage } from '@/app/_components/messages';
import { judgmentFlags, type TJudgmentFlag } from '@/db/schema/constants';
import type { TMessage } from '@/db/schema';
import type { TAnnotatorItem } from '@/server/annotation/handles';
import { strengths, type TStrength } from '@/server/annotation/strengths';
import { StrengthButtons } from '@/app/_components/strength-buttons';
import { EditPanel } from './edit-panel';
import { fitStrengths, isComplete, removeLast, tieWithLast, togglePlace, type TGroups } from './ranking';
import { RankingBar } from './ranking-bar';
import { SkipDialog } from './skip-dialog';
import { flagLabels, sideLetters, type TClientVerdict, type TRules } from './verdict-types';

function isTypingTarget(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return !!el && (el.tagName === 'TEXTAREA' || el.tagName === 'INPUT' || el.tagName === 'SELECT' || el.isContentEditable);
}

/** The content of a response's final assistant message: what the edit step rewrites. */
function finalAnswer(messages: TMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i]!.role === 'assistant') return messages[i]!.content;
  return '';
}

/**
 * One comparison on screen: a pair (choose, strength) or a ranking of three to eight, then the
 * optional edit step, flags, rationale; skip with a reason. Keyed by assignment by its parent,
 * so every new comparison starts from an empty verdict.
 */
export function JudgeComparison({
  item,
  rules,
  onSubmit,
  onSkip,
  onToggleHelp,
}: {
  item: TAnnotatorItem;
  rules: TRules;
  onSubmit: (item: TAnnotatorItem, verdict: TClientVerdict) => void;
  onSkip?: (item: TAnnotatorItem, reason: string) => void;
  onToggleHelp: () => void;
}) {
  const count = item.responses.length;
  const isPair = count === 2;
  const [chosen, setChosen] = useState<number | null>(null);
  const [strength, setStrength] = useState<TStrength | null>(null);
  const [groups, setGroups] = useState<TGroups>([]);
  const [rankStrengths, setRankStrengths] = useState<(TStrength | null)[]>([]);
  const [editing, setEditing] = useState(false);
  const [editText, setEditText] = useState<string | null>(null);
  const [flags, setFlags] = useState<Set<TJudgmentFlag>>(new Set());
  const [rationale, setRationale] = useState('');
  const [skipping, setSkipping] = useState(false);
  const pendingTie = useRef(false);
  const shownAt = useRef(0);
  useEffect(() => {
    shownAt.current = performance.now();
  }, []);

  // The response an edit would rewrite: the chosen one, or the single best of a ranking.
  const best = isPair ? chosen : groups[0]?.length === 1 && isComplete(groups, count) ? groups[0][0]! : null;
  const original = best === null ? '' : finalAnswer(item.responses[best]!.messages);
  const editChanged = editText !== null && editText.trim() !== original.trim() && editText.trim() !== '';
  const verdictDone = isPair ? chosen !== null && strength !== null : isComplete(groups, count) && (!rules.rankingStrength || fitStrengths(rankStrengths, groups).every((s) => s !== null));
  // A tie at the top leaves nothing single to rewrite: then even a required edit is not asked for.
  const canSubmit = verdictDone && (rules.editMode !== 'required' || editChanged || best === null);

  const updateGroups = useCallback((next: TGroups) => {
    setGroups(next);
    setRankStrengths((s) => fitStrengths(s, next));
  }, []);

  const choose = useCallback((position: number) => {
    setChosen(position);
    setEditText(null); // an edit belongs to the response it rewrote
  }, []);

  const openEditor = useCallback(() => {
    if (rules.editMode === 'off' || best === null) return;
    setEditText((t) => t ?? original);
    setEditing(true);
  }, [rules.editMode, best, original]);

  const submitNow = useCallback(() => {
    if (!canSubmit) return;
    const common = {
      edit: editChanged ? editText! : undefined,
      rationale: rationale.trim() || undefined,
      flags: flags.size ? [...flags] : undefined,
      timeSpentMs: Math.round(performance.now() - shownAt.current),
    };
    onSubmit(
      item,
      isPair
        ? { chosenPosition: chosen!, strength: strength!, ...common }
        : { ranking: groups, rankStrengths: rules.rankingStrength ? (rankStrengths as TStrength[]) : undefined, ...common },
    );
  }, [canSubmit, editChanged, editText, rationale, flags, onSubmit, item, isPair, chosen, strength, groups, rules.rankingStrength, rankStrengths]);

  useEffect(() => {
    function onKey(event: KeyboardEvent) {
      if (skipping || event.altKey || event.metaKey) return;
      if (isTypingTarget(event.target)) {
        if (event.key === 'Enter' && event.ctrlKey) {
          event.preventDefault();
          submitNow();
        }
        return;
      }
      if (event.ctrlKey) return;
      const key = event.key;
      const letter = key.length === 1 ? sideLetters.indexOf(key.toUpperCase() as (typeof sideLetters)[number]) : -1;
      if (isPair && (key === 'ArrowLeft' || letter === 0)) choose(0);
      else if (isPair && (key === 'ArrowRight' || letter === 1)) choose(1);
      else if (!isPair && letter >= 0 && letter < count && !(key.toUpperCase() === 'E' && isComplete(groups, count))) {
        updateGroups(pendingTie.current && rules.allowTies ? tieWithLast(groups, letter) : togglePlace(groups, letter));
        pendingTie.current = false;
      } else if (!isPair && key === '=' && rules.allowTies) pendingTie.current = true;
      else if (!isPair && key === 'Backspace') updateGroups(removeLast(groups));
      else if (key >= '1' && key <= '4') {
        const s = strengths[Number(key) - 1]!;
        if (isPair) setStrength(s);
        else if (rules.rankingStrength && groups.length >= 2) setRankStrengths((r) => fitStrengths(r, groups).map((v, i) => (i === groups.length - 2 ? s : v)));
      } else if (key === 'e' || key === 'E') openEditor();
      else if ((key === 's' || key === 'S') && onSkip) setSkipping(true);
      else if (key === 'Enter') submitNow();
      else if (key === '?') onToggleHelp();
      else return;
      event.preventDefault();
    }
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [skipping, submitNow, isPair, count, groups, rules, choose, updateGroups, openEditor, onSkip, onToggleHelp]);

  const rankOf = (position: number) => groups.findIndex((g) => g.includes(position));

  return (
    <>
      <section aria-label="Conversation" className="mb-4">
        <Conversation messages={item.prompt} />
      </section>

      <div className={`grid gap-4 ${isPair ? 'md:grid-cols-2' : 'md:grid-cols-2 xl:grid-cols-3'}`}>
        {item.responses.map((response, i) => {
          const side = sideLetters[i]!;
          const rank = rankOf(i);
          const selected = isPair ? chosen === i : rank === 0;
          return (
            <section
              key={i}
              role="region"
              aria-label={`Response ${side}`}
              className={`flex min-w-0 flex-col rounded-lg border-2 bg-white ${selected ? 'border-blue-600 ring-2 ring-blue-200' : 'border-slate-200'}`}
            >
              <div className="flex items-center justify-between gap-2 border-b border-slate-100 px-4 py-2">
                <h2 className="font-semibold">Response {side}</h2>
                {isPair ? (
                  <button
                    type="button"
                    aria-pressed={selected}
                    onClick={() => choose(i)}
                    className={`rounded px-3 py-1 text-sm font-medium ${selected ? 'bg-blue-600 text-white' : 'border border-slate-300 hover:bg-slate-50'}`}
                  >
                    {side} is better <kbd className="ml-1 text-xs opacity-70">{i === 0 ? 'A / ←' : 'B / →'}</kbd>
                  </button>
                ) : (
                  <button
                    type="button"
                    onClick={() => updateGroups(togglePlace(groups, i))}
                    className={`rounded px-3 py-1 text-sm font-medium ${rank >= 0 ? 'bg-blue-600 text-white' : 'border border-slate-300 hover:bg-slate-50'}`}
                  >
                    {rank >= 0 ? `Rank ${rank + 1}` : 'Rank next'} <kbd className="ml-1 text-xs opacity-70">{side}</kbd>
                  </button>
                )}
              </div>
              <div className="min-w-0 space-y-3 overflow-x-auto px-4 py-3">
                {response.messages.map((message, j) => (
                  <ResponseMessage key={j} message={message} several={response.messages.length > 1} />
                ))}
              </div>
            </section>
          );
        })}
      </div>

      {editing && best !== null && (
        <EditPanel original={original} value={editText ?? original} onChange={setEditText} onClose={() => setEditing(false)} required={rules.editMode === 'required'} />
      )}

      <div className="sticky bottom-0 mt-4 space-y-3 rounded-lg border border-slate-200 bg-white/95 p-4 shadow-sm backdrop-blur">
        {isPair ? (
          <fieldset className="flex flex-wrap items-center gap-2">
            <legend className="sr-only">Strength of preference</legend>
            <span className="mr-2 text-sm text-slate-600">{chosen === null ? 'Choose a response, then how much better it is:' : `Response ${sideLetters[chosen]} is…`}</span>
            <StrengthButtons value={strength} onChange={setStrength} />
          </fieldset>
        ) : (
          <RankingBar
            groups={groups}
            count={count}
            allowTies={rules.allowTies}
            askStrengths={rules.rankingStrength}
            rankStrengths={fitStrengths(rankStrengths, groups)}
            onChange={updateGroups}
            onStrength={(index, s) => setRankStrengths((r) => fitStrengths(r, groups).map((v, i) => (i === index ? s : v)))}
          />
        )}
        <div className="flex flex-wrap items-center gap-x-4 gap-y-1 text-sm">
          <span className="text-slate-600">Flags:</span>
          {judgmentFlags.map((flag) => (
            <label key={flag} className="flex items-center gap-1">
              <input
                type="checkbox"
                checked={flags.has(flag)}
                onChange={(e) =>
                  setFlags((current) => {
                    const next = new Set(current);
                    if (e.target.checked) next.add(flag);
                    else next.delete(flag);
                    return next;
                  })
                }
              />
              {flagLabels[flag]}
            </label>
          ))}
        </div>
        <div className="flex items-end gap-3">
          <label className="flex-1">
            <span className="mb-1 block text-xs text-slate-500">Rationale (optional; Ctrl+Enter submits from here)</span>
            <textarea value={rationale} onChange={(e) => setRationale(e.target.value)} rows={1} className="w-full rounded border border-slate-300 px-2 py-1 text-sm" />
          </label>
          {onSkip && (
            <button type="button" onClick={() => setSkipping(true)} className="rounded border border-slate-300 px-3 py-2 text-sm hover:bg-slate-50">
              Skip <kbd className="ml-1 text-xs opacity-70">S</kbd>
            </button>
          )}
          {rules.editMode !== 'off' && (
            <button type="button" disabled={best === null} onClick={openEditor} className="rounded border border-slate-300 px-3 py-2 text-sm hover:bg-slate-50 disabled:opacity-40">
              {editChanged ? 'Edited' : rules.editMode === 'required' ? 'Edit (required)' : 'Edit'} <kbd className="ml-1 text-xs opacity-70">E</kbd>
            </button>
          )}
          <button type="button" disabled={!canSubmit} onClick={submitNow} className="rounded bg-slate-900 px-5 py-2 font-medium text-white disabled:cursor-not-allowed disabled:opacity-40">
            Submit <kbd className="ml-1 text-xs opacity-70">Enter</kbd>
          </button>
        </div>
      </div>
      {skipping && onSkip && (
        <SkipDialog
          onCancel={() => setSkipping(false)}
          onSkip={(reason) => {
            setSkipping(false);
            onSkip(item, reason);
          }}
        />
      )}
    </>
  );
}
