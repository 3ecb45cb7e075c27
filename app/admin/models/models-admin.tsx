'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useState, type FormEvent } from 'react';
import { useTRPC } from '@/app/_trpc/client';

const inputClass = 'w-full rounded border border-slate-300 px-2 py-1.5 text-sm';

/** Optional number fields: empty means "the endpoint's default". */
function optionalNumber(text: string): number | undefined {
  return text.trim() === '' ? undefined : Number(text);
}

/**
 * The model registry for platform admins: OpenAI-compatible endpoints that answer in live
 * projects. Keys are never entered here: only the name of the server's environment variable.
 */
export function ModelsAdmin() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const list = useQuery(trpc.models.list.queryOptions());
  const register = useMutation(
    trpc.models.register.mutationOptions({
      onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.models.list.queryKey() }),
    }),
  );
  const empty = { name: '', kind: 'policy', serving: 'openai', baseUrl: '', apiModel: '', apiKeyEnv: '', artifactUri: '', baseModel: '', temperature: '', topP: '', maxTokens: '' };
  const [form, setForm] = useState(empty);
  const overHttp = form.serving === 'openai' || form.serving === 'vllm-classify';
  const [done, setDone] = useState<string | null>(null);
  const field = (key: keyof typeof form) => ({ value: form[key], onChange: (e: { target: { value: string } }) => setForm((f) => ({ ...f, [key]: e.target.value })) });

  function submit(event: FormEvent) {
    event.preventDefault();
    setDone(null);
    const sampling = { temperature: optionalNumber(form.temperature), top_p: optionalNumber(form.topP), max_tokens: optionalNumber(form.maxTokens) };
    register.mutate(
      {
        name: form.name,
        kind: form.kind as 'policy' | 'reward',
        serving: form.serving as 'openai' | 'vllm-classify' | 'onnx-local' | 'none',
        baseUrl: overHttp ? form.baseUrl : undefined,
        apiModel: overHttp ? form.apiModel : undefined,
        apiKeyEnv: (overHttp && form.apiKeyEnv.trim()) || undefined,
        artifactUri: form.artifactUri.trim() || undefined,
        baseModel: form.baseModel.trim() || undefined,
        sampling: Object.fromEntries(Object.entries(sampling).filter(([, v]) => v !== undefined)),
      },
      {
        onSuccess: (model) => {
          setDone(`Registered ${model.name}.`);
          setForm(empty);
        },
      },
    );
  }

  return (
    <main className="mx-auto max-w-5xl space-y-6 px-4 py-8">
      <div className="flex items-baseline justify-between">
        <h1 className="text-2xl font-semibold">Models</h1>
        <Link href="/admin/rounds" className="text-sm underline">
          Training rounds
        </Link>
      </div>

      <section className="rounded-lg border border-slate-200 bg-white p-4">
        <h2 className="mb-1 font-semibold">Register a model</h2>
        <p className="mb-3 text-sm text-slate-500">
          Any OpenAI-compatible chat completions endpoint (vLLM, TGI, SGLang, Ollama, llama.cpp, hosted APIs). The API key stays in an environment variable of
          the server: give its name, never the key.
        </p>
        <form onSubmit={submit} className="grid gap-3 md:grid-cols-2">
          <label className="text-sm">
            <span className="mb-1 block text-slate-600">Name</span>
            <input required {...field('name')} className={inputClass} placeholder="llama-r2-policy" />
          </label>
          <div className="grid grid-cols-2 gap-3">
            <label className="text-sm">
              <span className="mb-1 block text-slate-600">Kind</span>
              <select
                value={form.kind}
                onChange={(e) => setForm((f) => ({ ...f, kind: e.target.value, serving: e.target.value === 'reward' ? 'vllm-classify' : 'openai' }))}
                className={inputClass}
              >
                <option value="policy">policy (answers prompts)</option>
                <option value="reward">reward (scores answers)</option>
              </select>
            </label>
            <label className="text-sm">
              <span className="mb-1 block text-slate-600">Serving</span>
              <select {...field('serving')} className={inputClass}>
                {(form.kind === 'reward' ? ['vllm-classify', 'onnx-local', 'none'] : ['openai', 'none']).map((s) => (
                  <option key={s} value={s}>
                    {s}
                  </option>
                ))}
              </select>
            </label>
          </div>
          <label className="text-sm">
            <span className="mb-1 block text-slate-600">Base URL</span>
            <input required={overHttp} disabled={!overHttp} {...field('baseUrl')} className={inputClass} placeholder="http://gpu-1:8000/v1" />
          </label>
          <label className="text-sm">
            <span className="mb-1 block text-slate-600">API model</span>
            <input required={overHttp} disabled={!overHttp} {...field('apiModel')} className={inputClass} placeholder="meta-llama/Llama-3.1-8B-Instruct" />
          </label>
          <label className="text-sm">
            <span className="mb-1 block text-slate-600">Artifact URI (optional; the folder for onnx-local)</span>
            <input required={form.serving === 'onnx-local'} {...field('artifactUri')} className={`${inputClass} font-mono`} placeholder="s3://bucket/runs/12/output" />
          </label>
          <label className="text-sm">
            <span className="mb-1 block text-slate-600">Base model (optional)</span>
            <input {...field('baseModel')} className={inputClass} placeholder="meta-llama/Llama-3.1-8B-Instruct" />
          </label>
          <label className="text-sm">
            <span className="mb-1 block text-slate-600">API key variable (optional)</span>
            <input {...field('apiKeyEnv')} className={`${inputClass} font-mono`} placeholder="OPENAI_API_KEY" autoComplete="off" />
          </label>
          <div className="grid grid-cols-3 gap-3 md:col-span-2">
            <label className="text-sm">
              <span className="mb-1 block text-slate-600">Temperature</span>
              <input type="number" step="0.01" min={0} max={2} {...field('temperature')} className={inputClass} />
            </label>
            <label className="text-sm">
              <span className="mb-1 block text-slate-600">Top p</span>
              <input type="number" step="0.01" min={0} max={1} {...field('topP')} className={inputClass} />
            </label>
            <label className="text-sm">
              <span className="mb-1 block text-slate-600">Max tokens</span>
              <input type="number" step="1" min={1} max={32768} {...field('maxTokens')} className={inputClass} />
            </label>
          </div>
          <div className="flex items-center gap-3 md:col-span-2">
            <button type="submit" disabled={register.isPending} className="rounded bg-slate-900 px-4 py-1.5 text-sm font-medium text-white disabled:opacity-40">
              Register
            </button>
            {register.error && (
              <span role="alert" className="text-sm text-red-700">
                {register.error.message}
              </span>
            )}
            {done && (
              <span role="status" className="text-sm text-green-700">
                {done}
              </span>
            )}
          </div>
        </form>
      </section>

      <section className="rounded-lg border border-slate-200 bg-white p-4">
        <h2 className="mb-3 font-semibold">Registered models</h2>
        {list.error && <p className="text-sm text-red-700">{list.error.message}</p>}
        {list.data && list.data.length === 0 && <p className="text-sm text-slate-500">No models yet.</p>}
        {list.data && list.data.length > 0 && (
          <table className="w-full text-sm">
            <thead className="text-left text-slate-500">
              <tr>
                <th className="py-1">Name</th>
                <th>Kind</th>
                <th>Endpoint</th>
                <th>Key</th>
                <th>Sampling</th>
                <th>Status</th>
              </tr>
            </thead>
            <tbody>
              {list.data.map((m) => (
                <tr key={m.id} className="border-t border-slate-100 align-top">
                  <td className="py-1.5 font-medium">{m.name}</td>
                  <td>
                    {m.kind}, {m.serving}
                  </td>
                  <td className="break-all">
                    {m.serving === 'openai' || m.serving === 'vllm-classify' ? (
                      <>
                        <code>{m.apiModel}</code> at <code>{m.baseUrl}</code>
                      </>
                    ) : (
                      <span className="text-slate-500">not served over HTTP</span>
                    )}
                    {m.artifactUri ? (
                      <div className="text-xs text-slate-500">
                        weights <code>{m.artifactUri}</code>
                      </div>
                    ) : null}
                    {m.roundId ? (
                      <div className="text-xs text-slate-500">
                        from round {m.roundId}, run {m.runId}
                        {m.datasetVersionIds.length ? `, data ${m.datasetVersionIds.map((v) => `#${v}`).join(' ')}` : ''}
                        {m.baseModel ? `, base ${m.baseModel}` : ''}
                      </div>
                    ) : m.baseModel ? (
                      <div className="text-xs text-slate-500">base {m.baseModel}</div>
                    ) : null}
                  </td>
                  <td>
                    {m.apiKeyEnv ? (
                      <>
                        <code>${m.apiKeyEnv}</code> {m.keyConfigured ? <span className="text-green-700">set</span> : <span className="text-red-700">not set on the server</span>}
                      </>
                    ) : (
                      <span className="text-slate-500">none</span>
                    )}
                  </td>
                  <td className="font-mono text-xs">
                    {Object.entries(m.sampling)
                      .map(([k, v]) => `${k}=${v}`)
                      .join(' ') || 'defaults'}
                  </td>
                  <td>{m.enabled ? 'enabled' : 'disabled'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </main>
  );
}
