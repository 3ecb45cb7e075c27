'use client';

import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useTRPC } from '@/app/_trpc/client';

interface TSettings {
  judgmentsRequired: number;
  leaseSeconds: number;
  editMode: 'off' | 'optional' | 'required';
  allowTies: boolean;
  rankingStrength: boolean;
  live: boolean;
  goldRate: number;
  goldThreshold: number;
  goldMinItems: number;
  pauseBelowGold: boolean;
  reviewSampleRate: number;
}

/** Task settings of a project: how comparisons are judged. */
export function SettingsPanel({ project, initial }: { project: string; initial: TSettings }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [settings, setSettings] = useState(initial);
  const save = useMutation(
    trpc.projects.update.mutationOptions({
      onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.projects.overview.queryKey({ project }) }),
    }),
  );
  const set = <K extends keyof TSettings>(key: K, value: TSettings[K]) => setSettings((s) => ({ ...s, [key]: value }));
  return (
    <section aria-label="Settings" className="rounded-lg border border-slate-200 bg-white p-4">
      <h2 className="mb-3 font-semibold">Settings</h2>
      <form
        className="grid gap-3 text-sm md:grid-cols-2"
        onSubmit={(e) => {
          e.preventDefault();
          save.mutate({ project, settings });
        }}
      >
        <label className="flex items-center justify-between gap-2">
          Judgments per comparison
          <input type="number" min={1} max={50} value={settings.judgmentsRequired} onChange={(e) => set('judgmentsRequired', Number(e.target.value))} className="w-20 rounded border border-slate-300 px-2 py-1" />
        </label>
        <label className="flex items-center justify-between gap-2">
          Lease (seconds an annotator holds a comparison)
          <input type="number" min={10} value={settings.leaseSeconds} onChange={(e) => set('leaseSeconds', Number(e.target.value))} className="w-24 rounded border border-slate-300 px-2 py-1" />
        </label>
        <label className="flex items-center justify-between gap-2">
          Edit step
          <select value={settings.editMode} onChange={(e) => set('editMode', e.target.value as TSettings['editMode'])} className="rounded border border-slate-300 px-2 py-1">
            <option value="off">off</option>
            <option value="optional">optional</option>
            <option value="required">required</option>
          </select>
        </label>
        <label className="flex items-center gap-2">
          <input type="checkbox" checked={settings.allowTies} onChange={(e) => set('allowTies', e.target.checked)} />
          Rankings may have ties
        </label>
        <label className="flex items-center gap-2">
          <input type="checkbox" checked={settings.rankingStrength} onChange={(e) => set('rankingStrength', e.target.checked)} />
          Rankings ask the strength between adjacent ranks
        </label>
        <label className="flex items-center gap-2">
          <input type="checkbox" checked={settings.live} onChange={(e) => set('live', e.target.checked)} />
          Live: annotators write prompts, two models answer
        </label>
        <label className="flex items-center justify-between gap-2">
          Gold items, share of new comparisons
          <input type="number" min={0} max={1} step={0.01} value={settings.goldRate} onChange={(e) => set('goldRate', Number(e.target.value))} className="w-24 rounded border border-slate-300 px-2 py-1" />
        </label>
        <label className="flex items-center justify-between gap-2">
          Gold accuracy threshold
          <input type="number" min={0} max={1} step={0.05} value={settings.goldThreshold} onChange={(e) => set('goldThreshold', Number(e.target.value))} className="w-24 rounded border border-slate-300 px-2 py-1" />
        </label>
        <label className="flex items-center justify-between gap-2">
          Gold answers before judging an annotator
          <input type="number" min={1} value={settings.goldMinItems} onChange={(e) => set('goldMinItems', Number(e.target.value))} className="w-24 rounded border border-slate-300 px-2 py-1" />
        </label>
        <label className="flex items-center gap-2">
          <input type="checkbox" checked={settings.pauseBelowGold} onChange={(e) => set('pauseBelowGold', e.target.checked)} />
          Pause annotators below the gold threshold
        </label>
        <label className="flex items-center justify-between gap-2">
          Share of judgments sampled for review
          <input type="number" min={0} max={1} step={0.01} value={settings.reviewSampleRate} onChange={(e) => set('reviewSampleRate', Number(e.target.value))} className="w-24 rounded border border-slate-300 px-2 py-1" />
        </label>
        <div className="flex items-center gap-3 md:col-span-2">
          <button type="submit" disabled={save.isPending} className="rounded bg-slate-900 px-3 py-1.5 font-medium text-white disabled:opacity-40">
            Save settings
          </button>
          {save.isSuccess && <span role="status" className="text-green-700">Saved.</span>}
          {save.error && <span role="alert" className="text-red-700">{save.error.message}</span>}
        </div>
      </form>
    </section>
  );
}
