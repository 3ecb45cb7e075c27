'use client';

import { useMutation, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useState, type FormEvent, type ReactNode } from 'react';
import { useTRPC } from '@/app/_trpc/client';
import type { TProjectChoice } from './datasets-admin';
import {
  aggregationOptions,
  defaultSpecForm,
  dropSimilarOptions,
  expansionOptions,
  fieldHelp,
  formFieldOf,
  minStrengthOptions,
  specFromForm,
  type TSpecForm,
} from './spec-form';

const inputClass = 'w-full rounded border border-slate-300 px-2 py-1.5 text-sm aria-[invalid=true]:border-red-500';

type TFieldKey = keyof TSpecForm | 'name';

/** A labelled control with its one-line explanation and, when there is one, its error. */
function Field({ id, label, error, children, wide }: { id: TFieldKey; label: string; error?: string; children: ReactNode; wide?: boolean }) {
  return (
    <div className={`text-sm ${wide ? 'md:col-span-2' : ''}`} data-field={id}>
      <label htmlFor={`spec-${id}`} className="mb-1 block font-medium text-slate-700">
        {label}
      </label>
      {children}
      <p id={`spec-${id}-help`} className="mt-1 text-xs text-slate-500">
        {fieldHelp[id]}
      </p>
      {error && (
        <p id={`spec-${id}-error`} className="mt-1 text-xs text-red-700" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

/** A checkbox filter: the label and the explanation beside the box. */
function Toggle({ id, label, checked, onChange }: { id: 'keepUnrated' | 'dropFlagged' | 'dropGold'; label: string; checked: boolean; onChange: (value: boolean) => void }) {
  return (
    <div className="flex items-start gap-2 text-sm" data-field={id}>
      <input id={`spec-${id}`} type="checkbox" checked={checked} onChange={(e) => onChange(e.target.checked)} className="mt-0.5" aria-describedby={`spec-${id}-help`} />
      <div>
        <label htmlFor={`spec-${id}`} className="font-medium text-slate-700">
          {label}
        </label>
        <p id={`spec-${id}-help`} className="text-xs text-slate-500">
          {fieldHelp[id]}
        </p>
      </div>
    </div>
  );
}

/**
 * The build form: a name, source projects and the filter spec with Llama 3's defaults filled in.
 * The spec preview shows exactly what is sent.
 */
export function BuildForm({ projects, initialProjects }: { projects: TProjectChoice[]; initialProjects: string[] }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [name, setName] = useState('');
  const [form, setForm] = useState<TSpecForm>(() => defaultSpecForm(initialProjects));
  const [queued, setQueued] = useState<number | null>(null);
  const [localErrors, setLocalErrors] = useState<Partial<Record<TFieldKey, string>>>({});
  const build = useMutation(
    trpc.datasets.build.mutationOptions({
      onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.datasets.list.pathKey() }),
    }),
  );
  const { spec, errors: specErrors } = specFromForm(form);
  const set = <K extends keyof TSpecForm>(key: K, value: TSpecForm[K]) => {
    setForm((f) => ({ ...f, [key]: value }));
    setLocalErrors((e) => ({ ...e, [key]: undefined }));
    if (build.error) build.reset();
  };
  const text = (key: keyof TSpecForm) => ({
    id: `spec-${key}`,
    value: form[key] as string,
    onChange: (e: { target: { value: string } }) => set(key, e.target.value as never),
    className: inputClass,
    'aria-describedby': `spec-${key}-help`,
    'aria-invalid': Boolean(errorOf(key)),
  });

  // Our error formatter adds the field a BAD_REQUEST or NOT_FOUND is about.
  const serverField = formFieldOf((build.error?.data as { field?: string } | null | undefined)?.field);
  function errorOf(key: TFieldKey): string | undefined {
    if (localErrors[key]) return localErrors[key];
    // The field is shown by its place: "spec.to: must be after `from`" reads "must be after `from`" there.
    if (serverField === key) return build.error?.message.replace(/^[\w.[\]]+: /, '');
    return undefined;
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    setQueued(null);
    const errors: Partial<Record<TFieldKey, string>> = { ...specErrors };
    if (!name.trim()) errors.name = 'a version needs a name';
    setLocalErrors(errors);
    if (Object.values(errors).some(Boolean)) return;
    build.mutate(
      { name, spec },
      {
        onSuccess: (version) => {
          setQueued(version.id);
          setName('');
        },
      },
    );
  }

  const allSelected = projects.length > 0 && projects.every((p) => form.projects.includes(p.slug));
  return (
    <section className="rounded-lg border border-slate-200 bg-white p-4" aria-labelledby="build-heading">
      <h2 id="build-heading" className="mb-1 font-semibold">
        Build a version
      </h2>
      <p className="mb-4 text-sm text-slate-500">
        The filters start at Llama 3’s recipe: only “significantly better” and “better” pairs, similar responses discarded. A version is immutable: the same
        spec over the same judgments always gives the same content hash.
      </p>
      <form onSubmit={submit} noValidate className="space-y-5">
        <div className="grid gap-4 md:grid-cols-2">
          <Field id="name" label="Name" error={errorOf('name')}>
            <input
              id="spec-name"
              value={name}
              onChange={(e) => {
                setName(e.target.value);
                setLocalErrors((er) => ({ ...er, name: undefined }));
              }}
              maxLength={200}
              placeholder="rm round 2"
              className={inputClass}
              aria-describedby="spec-name-help"
              aria-invalid={Boolean(errorOf('name'))}
            />
          </Field>
          <div className="text-sm" data-field="projects">
            <fieldset aria-describedby="spec-projects-help">
              <legend className="mb-1 flex w-full items-baseline font-medium text-slate-700">
                Source projects
                <button
                  type="button"
                  className="ml-auto text-xs font-normal text-blue-700 underline"
                  onClick={() => set('projects', allSelected ? [] : projects.map((p) => p.slug))}
                >
                  {allSelected ? 'Select none' : 'Select all'}
                </button>
              </legend>
              <div className={`max-h-36 overflow-y-auto rounded border px-2 py-1 ${errorOf('projects') ? 'border-red-500' : 'border-slate-300'}`}>
                {projects.map((p) => (
                  <label key={p.slug} className="flex items-center gap-2 py-0.5">
                    <input
                      type="checkbox"
                      checked={form.projects.includes(p.slug)}
                      onChange={(e) => set('projects', e.target.checked ? [...form.projects, p.slug] : form.projects.filter((s) => s !== p.slug))}
                    />
                    <span className="min-w-0 truncate">{p.name}</span>
                    <span className="ml-auto shrink-0 text-xs text-slate-500">{p.slug}</span>
                  </label>
                ))}
              </div>
            </fieldset>
            <p id="spec-projects-help" className="mt-1 text-xs text-slate-500">
              {fieldHelp.projects}
            </p>
            {errorOf('projects') && (
              <p className="mt-1 text-xs text-red-700" role="alert">
                {errorOf('projects')}
              </p>
            )}
          </div>
        </div>

        <fieldset className="grid gap-4 border-t border-slate-100 pt-4 md:grid-cols-2">
          <legend className="sr-only">Strength and similarity</legend>
          <Field id="minStrength" label="Minimum strength" error={errorOf('minStrength')}>
            <select {...text('minStrength')}>
              {minStrengthOptions.map((o) => (
                <option key={o.value} value={o.value}>
                  {o.label}
                </option>
              ))}
            </select>
          </Field>
          <Field id="dropSimilar" label="Drop similar responses" error={errorOf('dropSimilar')}>
            <select {...text('dropSimilar')}>
              {dropSimilarOptions.map((o) => (
                <option key={o.value} value={o.value}>
                  {o.label}
                </option>
              ))}
            </select>
          </Field>
          <Field id="aggregation" label="Aggregation" error={errorOf('aggregation')}>
            <select {...text('aggregation')}>
              {aggregationOptions.map((o) => (
                <option key={o.value} value={o.value}>
                  {o.label}
                </option>
              ))}
            </select>
          </Field>
          <Field id="expansion" label="Ranking expansion" error={errorOf('expansion')}>
            <select {...text('expansion')}>
              {expansionOptions.map((o) => (
                <option key={o.value} value={o.value}>
                  {o.label}
                </option>
              ))}
            </select>
          </Field>
        </fieldset>

        <fieldset className="grid gap-4 border-t border-slate-100 pt-4 md:grid-cols-3">
          <legend className="sr-only">Judgments left out</legend>
          <Toggle id="keepUnrated" label="Keep unrated pairs" checked={form.keepUnrated} onChange={(v) => set('keepUnrated', v)} />
          <Toggle id="dropFlagged" label="Drop flagged judgments" checked={form.dropFlagged} onChange={(v) => set('dropFlagged', v)} />
          <Toggle id="dropGold" label="Drop gold items" checked={form.dropGold} onChange={(v) => set('dropGold', v)} />
        </fieldset>

        <fieldset className="grid gap-4 border-t border-slate-100 pt-4 md:grid-cols-2">
          <legend className="sr-only">Quality, dedup and split</legend>
          <Field id="minGoldAccuracy" label="Minimum gold accuracy" error={errorOf('minGoldAccuracy')}>
            <input {...text('minGoldAccuracy')} type="number" inputMode="decimal" step="0.05" min={0} max={1} placeholder="off" />
          </Field>
          <Field id="dedupThreshold" label="Semantic dedup threshold" error={errorOf('dedupThreshold')}>
            <input {...text('dedupThreshold')} type="number" inputMode="decimal" step="0.01" min={0} max={1} placeholder="off" />
          </Field>
          <Field id="testFraction" label="Test fraction" error={errorOf('testFraction')}>
            <input {...text('testFraction')} type="number" inputMode="decimal" step="0.01" min={0} max={0.5} />
          </Field>
          <Field id="splitSeed" label="Split seed" error={errorOf('splitSeed')}>
            <input {...text('splitSeed')} maxLength={100} />
          </Field>
        </fieldset>

        <fieldset className="grid gap-4 border-t border-slate-100 pt-4 md:grid-cols-2">
          <legend className="sr-only">Which judgments</legend>
          <Field id="rounds" label="Rounds" error={errorOf('rounds')}>
            <input {...text('rounds')} placeholder="all rounds" />
          </Field>
          <Field id="models" label="Models" error={errorOf('models')}>
            <input {...text('models')} placeholder="all models" />
          </Field>
          <Field id="from" label="Judged from" error={errorOf('from')}>
            <input {...text('from')} type="date" />
          </Field>
          <Field id="to" label="Judged before" error={errorOf('to')}>
            <input {...text('to')} type="date" />
          </Field>
        </fieldset>

        <details className="rounded border border-slate-200 bg-slate-50 text-sm">
          <summary className="cursor-pointer px-3 py-2 font-medium text-slate-700">Spec: the JSON this form sends</summary>
          <pre aria-label="Spec JSON" className="max-h-96 overflow-auto border-t border-slate-200 px-3 py-2 text-xs">
            {JSON.stringify(spec, null, 2)}
          </pre>
        </details>

        <div className="flex flex-wrap items-center gap-3">
          <button type="submit" disabled={build.isPending} className="rounded bg-slate-900 px-4 py-1.5 text-sm font-medium text-white disabled:opacity-40">
            {build.isPending ? 'Queuing…' : 'Build version'}
          </button>
          <button
            type="button"
            onClick={() => {
              setForm(defaultSpecForm(form.projects));
              setLocalErrors({});
            }}
            className="text-sm text-slate-600 underline"
          >
            Reset filters to Llama 3 defaults
          </button>
          {build.error && (
            <span role="alert" className="text-sm text-red-700" data-testid="build-error">
              {build.error.message}
            </span>
          )}
          {Object.values(localErrors).some(Boolean) && !build.error && (
            <span role="alert" className="text-sm text-red-700">
              Fix the fields marked above.
            </span>
          )}
          {queued !== null && (
            <span role="status" className="text-sm text-green-700">
              Queued version{' '}
              <Link href={`/admin/datasets/${queued}`} className="underline">
                #{queued}
              </Link>
              : the worker builds it now (progress in the list above).
            </span>
          )}
        </div>
      </form>
    </section>
  );
}
