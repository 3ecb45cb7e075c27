'use client';

import { useState } from 'react';
import { strengthLabels, strengths, type TStrength } from '@/server/annotation/strengths';
import { moveTo, type TGroups } from './ranking';
import { sideLetters } from './verdict-types';

/**
 * The ranking being built, best first. Responses can be dragged onto another rank (a tie,
 * where the project allows it) or between ranks; strengths between adjacent ranks when asked.
 */
export function RankingBar({
  groups,
  count,
  allowTies,
  askStrengths,
  rankStrengths,
  onChange,
  onStrength,
}: {
  groups: TGroups;
  count: number;
  allowTies: boolean;
  askStrengths: boolean;
  rankStrengths: (TStrength | null)[];
  onChange: (groups: TGroups) => void;
  onStrength: (index: number, strength: TStrength) => void;
}) {
  const [dragging, setDragging] = useState<number | null>(null);
  const placed = new Set(groups.flat());
  const unplaced = Array.from({ length: count }, (_, i) => i).filter((i) => !placed.has(i));

  const drop = (index: number, asNewRank: boolean) => (e: React.DragEvent) => {
    e.preventDefault();
    const position = Number(e.dataTransfer.getData('text/plain'));
    if (Number.isInteger(position)) onChange(moveTo(groups, position, index, asNewRank || !allowTies));
    setDragging(null);
  };
  const chip = (position: number) => (
    <span
      key={position}
      draggable
      onDragStart={(e) => {
        e.dataTransfer.setData('text/plain', String(position));
        setDragging(position);
      }}
      onDragEnd={() => setDragging(null)}
      className="cursor-grab rounded border border-slate-300 bg-white px-2 py-0.5 font-mono text-sm shadow-sm"
      data-testid={`rank-chip-${sideLetters[position]}`}
    >
      {sideLetters[position]}
    </span>
  );
  const gap = (index: number) => (
    <span
      key={`gap-${index}`}
      onDragOver={(e) => e.preventDefault()}
      onDrop={drop(index, true)}
      className={`inline-block h-7 w-3 rounded ${dragging !== null ? 'bg-blue-100' : ''}`}
      aria-hidden
    />
  );

  return (
    <div className="flex flex-wrap items-center gap-1" aria-label="Ranking, best first" data-testid="ranking">
      <span className="mr-2 text-sm text-slate-600">Ranking, best first:</span>
      {groups.length === 0 && <span className="text-sm text-slate-400">press the letters in order of preference</span>}
      {groups.map((group, i) => (
        <span key={i} className="flex items-center gap-1">
          {gap(i)}
          <span
            onDragOver={(e) => e.preventDefault()}
            onDrop={drop(i, false)}
            className="flex items-center gap-1 rounded-md bg-slate-100 px-1.5 py-1"
            data-testid={`rank-${i + 1}`}
          >
            <span className="text-xs text-slate-500">{i + 1}.</span>
            {group.map((p, j) => (
              <span key={p} className="flex items-center gap-1">
                {j > 0 && <span className="text-xs text-slate-500">=</span>}
                {chip(p)}
              </span>
            ))}
          </span>
          {askStrengths && i < groups.length - 1 && (
            <select
              aria-label={`Strength between rank ${i + 1} and rank ${i + 2}`}
              value={rankStrengths[i] ?? ''}
              onChange={(e) => onStrength(i, e.target.value as TStrength)}
              className="rounded border border-slate-300 px-1 py-0.5 text-xs"
            >
              <option value="">strength…</option>
              {strengths.map((s) => (
                <option key={s} value={s}>
                  {strengthLabels[s]}
                </option>
              ))}
            </select>
          )}
        </span>
      ))}
      {gap(groups.length)}
      {unplaced.length > 0 && (
        <span className="ml-3 flex items-center gap-1 text-xs text-slate-500">
          to place: {unplaced.map((p) => chip(p))}
        </span>
      )}
    </div>
  );
}
