'use client';

import { strengthLabels, strengths, type TStrength } from '@/server/annotation/strengths';

/** The four Llama 3 strengths as toggle buttons, with their 1–4 key hints. */
export function StrengthButtons({ value, onChange, selectedClass = 'bg-blue-600 text-white' }: { value: TStrength | null; onChange: (strength: TStrength) => void; selectedClass?: string }) {
  return strengths.map((s, i) => (
    <button
      key={s}
      type="button"
      aria-pressed={value === s}
      onClick={() => onChange(s)}
      className={`rounded px-3 py-1.5 text-sm ${value === s ? selectedClass : 'border border-slate-300 hover:bg-slate-50'}`}
    >
      <kbd className="mr-1 text-xs opacity-70">{i + 1}</kbd>
      {strengthLabels[s]}
    </button>
  ));
}
