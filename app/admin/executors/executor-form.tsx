'use client';

import { useMutation } from '@tanstack/react-query';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useTRPC } from '@/app/_trpc/client';
import type { TExecutorInfo } from '@/server/executors/executors';
import { exampleText } from './config-examples';

const inputClass = 'w-full rounded border border-slate-300 px-2 py-1.5 text-sm aria-[invalid=true]:border-red-500';

type TField = 'name' | 'kind' | 'config';
type TErrors = Partial<Record<TField | 'form', string>>;

/** Which of the form's fields a server error names (`config.ssh.host` is the config's); null for none of them. */
function formFieldOf(field: string | undefined | null): TField | null {
  if (!field) return null;
  if (field === 'name' || field === 'kind') return field;
  if (field === 'config' || field.startsWith('config.') || field.startsWith('config[')) return 'config';
  return null;
}

function FieldError({ id, error }: { id: string; error?: string }) {
  if (!error) return null;
  return (
    <p id={`${id}-error`} role="alert" className="mt-1 whitespace-pre-wrap break-words text-xs text-red-700">
      {error}
    </p>
  );
}

/**
 * Adds an executor or edits one: name, kind (fixed once created), and the config as JSON, which
 * the server validates for the kind. Errors the server ties to a field show under that field.
 */
export function ExecutorForm({ kinds, editing, onSaved, onCancel }: { kinds: string[]; editing: TExecutorInfo | null; onSaved: (message: string) => void; onCancel: () => void }) {
  const trpc = useTRPC();
  const create = useMutation(trpc.executors.create.mutationOptions());
  const update = useMutation(trpc.executors.update.mutationOptions());
  const [name, setName] = useState(editing?.name ?? '');
  const [kind, setKind] = useState<string>(editing?.kind ?? kinds[0] ?? 'local');
  const [enabled, setEnabled] = useState(true);
  const [configText, setConfigText] = useState(editing ? JSON.stringify(editing.config, null, 2) : '{}');
  const [errors, setErrors] = useState<TErrors>({});
  const focusField = useRef<TField | null>(null);
  const pending = create.isPending || update.isPending;

  useEffect(() => {
    if (!focusField.current) return;
    document.getElementById(`executor-${focusField.current}`)?.focus();
    focusField.current = null;
  }, [errors]);

  // Opening the form (or another executor in it) puts the cursor in its first field.
  useEffect(() => {
    document.getElementById('executor-name')?.focus();
  }, [editing?.id]);

  function showServerError(error: unknown) {
    const message = error instanceof Error ? error.message : String(error);
    const field = formFieldOf((error as { data?: { field?: string } } | null)?.data?.field);
    focusField.current = field;
    setErrors(field ? { [field]: message } : { form: message });
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    let config: unknown;
    try {
      config = JSON.parse(configText);
    } catch (error) {
      focusField.current = 'config';
      setErrors({ config: `config: not valid JSON (${(error as Error).message})` });
      return;
    }
    if (!config || typeof config !== 'object' || Array.isArray(config)) {
      focusField.current = 'config';
      setErrors({ config: 'config: must be a JSON object, { ... }' });
      return;
    }
    setErrors({});
    const handlers = { onError: showServerError };
    if (editing) {
      update.mutate({ id: editing.id, name: name.trim(), config: config as Record<string, unknown> }, { ...handlers, onSuccess: (saved) => onSaved(`Saved ${saved.name}.`) });
    } else {
      type TCreate = Parameters<typeof create.mutate>[0];
      create.mutate({ name: name.trim(), kind, config, enabled } as TCreate, { ...handlers, onSuccess: (saved) => onSaved(`Added ${saved.name}.`) });
    }
  }

  const described = (field: TField, hint?: boolean) => [hint ? `executor-${field}-hint` : '', errors[field] ? `executor-${field}-error` : ''].filter(Boolean).join(' ') || undefined;

  return (
    <form onSubmit={submit} className="grid gap-3 md:grid-cols-3" aria-label={editing ? `Edit executor ${editing.name}` : 'Add an executor'} noValidate>
      <div className="text-sm">
        <label htmlFor="executor-name" className="mb-1 block text-slate-600">
          Name
        </label>
        <input
          id="executor-name"
          required
          value={name}
          onChange={(e) => setName(e.target.value)}
          className={inputClass}
          placeholder="gpu-box"
          autoComplete="off"
          aria-invalid={Boolean(errors.name)}
          aria-describedby={described('name')}
        />
        <FieldError id="executor-name" error={errors.name} />
      </div>
      <div className="text-sm">
        <label htmlFor="executor-kind" className="mb-1 block text-slate-600">
          Kind
        </label>
        <select
          id="executor-kind"
          value={kind}
          onChange={(e) => setKind(e.target.value)}
          disabled={Boolean(editing)}
          className={inputClass}
          aria-invalid={Boolean(errors.kind)}
          aria-describedby={described('kind', true)}
        >
          {kinds.map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
        <p id="executor-kind-hint" className="mt-1 text-xs text-slate-500">
          {editing ? 'The kind of an executor cannot change.' : 'local process, Ray cluster, Kubernetes Jobs or Slurm.'}
        </p>
        <FieldError id="executor-kind" error={errors.kind} />
      </div>
      <div className="flex items-start pt-6 text-sm">
        {editing ? (
          <span className="text-slate-500">{editing.enabled ? 'Enabled' : 'Disabled'} (switch it in the table)</span>
        ) : (
          <label className="inline-flex items-center gap-2">
            <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} />
            Enabled (rounds may use it)
          </label>
        )}
      </div>
      <div className="text-sm md:col-span-3">
        <label htmlFor="executor-config" className="mb-1 block text-slate-600">
          Config (JSON)
        </label>
        <textarea
          id="executor-config"
          rows={12}
          spellCheck={false}
          value={configText}
          onChange={(e) => setConfigText(e.target.value)}
          className={`${inputClass} font-mono text-xs`}
          aria-invalid={Boolean(errors.config)}
          aria-describedby={described('config', true)}
        />
        <FieldError id="executor-config" error={errors.config} />
        <p id="executor-config-hint" className="mt-1 text-xs text-slate-500">
          The fields of each kind are in{' '}
          <a href="/admin/executors/docs" target="_blank" rel="noreferrer" className="text-blue-700 underline">
            docs/executors.md
          </a>
          . Secrets are never stored: give the name of the environment variable that holds each one.
        </p>
        <details className="mt-2 text-xs">
          <summary className="cursor-pointer text-slate-600">Example for {kind}</summary>
          <pre className="mt-1 max-h-64 overflow-auto rounded bg-slate-50 p-2">{exampleText(kind)}</pre>
          <button type="button" className="mt-1 rounded border border-slate-300 px-2 py-0.5 hover:bg-slate-50" onClick={() => setConfigText(exampleText(kind))}>
            Use this example
          </button>
        </details>
      </div>
      <div className="flex items-center gap-3 md:col-span-3">
        <button type="submit" disabled={pending} className="rounded bg-slate-900 px-4 py-1.5 text-sm font-medium text-white disabled:opacity-40">
          {editing ? 'Save' : 'Add executor'}
        </button>
        <button type="button" onClick={onCancel} className="text-sm text-slate-600 hover:text-slate-900">
          Cancel
        </button>
        {errors.form ? (
          <span role="alert" className="whitespace-pre-wrap break-words text-sm text-red-700">
            {errors.form}
          </span>
        ) : null}
      </div>
    </form>
  );
}
