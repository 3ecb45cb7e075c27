'use client';

import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useTRPC } from '@/app/_trpc/client';
import { strengthLabels } from '@/server/annotation/strengths';

const percent = (share: number | null) => (share === null ? '–' : `${Math.round(share * 1000) / 10}%`);
const sideNames = ['first', 'second'];

/** Reviewer decisions and their rates, the queue, conflicts, and what reviews said about each annotator. */
export function ReviewStats({ project }: { project: string }) {
  const trpc = useTRPC();
  const stats = useQuery(trpc.reviews.stats.queryOptions({ project }));
  return (
    <section aria-label="Review" className="rounded-lg border border-slate-200 bg-white p-4">
      <div className="mb-3 flex items-center gap-3">
        <h2 className="font-semibold">Review</h2>
        <Link href={`/review/${project}`} className="ml-auto text-sm text-blue-700 underline">
          Open the review queue
        </Link>
      </div>
      {stats.error && <p className="text-sm text-red-700">{stats.error.message}</p>}
      {!stats.data && !stats.error && <p className="text-sm text-slate-500">Loading…</p>}
      {stats.data && (
        <div className="space-y-4 text-sm">
          <dl className="grid grid-cols-2 gap-3 md:grid-cols-6" data-testid="review-figures">
            <Figure label="Reviewed" value={`${stats.data.reviewed} / ${stats.data.judgments}`} sub={percent(stats.data.reviewedShare)} />
            <Figure label="Accepted" value={stats.data.decisions.accept} sub={percent(stats.data.rates.accept)} />
            <Figure label="Rejected" value={stats.data.decisions.reject} sub={percent(stats.data.rates.reject)} />
            <Figure label="Corrected" value={stats.data.decisions.correct} sub={percent(stats.data.rates.correct)} />
            <Figure label="Waiting" value={stats.data.pending.total} sub={`${stats.data.pending.flagged} flagged · ${stats.data.pending.conflict} conflict · ${stats.data.pending.sampled} sampled`} />
            <Figure label="Conflicts" value={stats.data.conflicts} sub={`sample rate ${percent(stats.data.sampleRate)}`} />
          </dl>

          {stats.data.byReviewer.length > 0 && (
            <table className="w-full">
              <caption className="mb-1 text-left font-medium">Reviewers</caption>
              <thead className="text-left text-slate-500">
                <tr>
                  <th className="py-1">Reviewer</th>
                  <th>Reviewed</th>
                  <th>Accepted</th>
                  <th>Rejected</th>
                  <th>Corrected</th>
                  <th>Acceptance</th>
                  <th>Last review</th>
                </tr>
              </thead>
              <tbody className="tabular-nums">
                {stats.data.byReviewer.map((r) => (
                  <tr key={r.reviewerId} className="border-t border-slate-100">
                    <td className="py-1">{r.email}</td>
                    <td>{r.reviewed}</td>
                    <td>{r.accept}</td>
                    <td>{r.reject}</td>
                    <td>{r.correct}</td>
                    <td>{percent(r.acceptanceRate)}</td>
                    <td>{new Date(r.lastReviewAt).toLocaleString()}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}

          {stats.data.byAnnotator.length > 0 && (
            <table className="w-full" data-testid="annotator-outcomes">
              <caption className="mb-1 text-left font-medium">Annotators’ review outcomes</caption>
              <thead className="text-left text-slate-500">
                <tr>
                  <th className="py-1">Annotator</th>
                  <th>Judgments</th>
                  <th>Reviewed</th>
                  <th>Accepted</th>
                  <th>Rejected</th>
                  <th>Corrected</th>
                  <th>Upheld</th>
                </tr>
              </thead>
              <tbody className="tabular-nums">
                {stats.data.byAnnotator.map((a) => (
                  <tr key={a.annotatorId} className="border-t border-slate-100">
                    <td className="py-1">{a.email}</td>
                    <td>{a.judgments}</td>
                    <td>{a.reviewed}</td>
                    <td>{a.accepted}</td>
                    <td className={a.rejected ? 'text-red-700' : ''}>{a.rejected}</td>
                    <td className={a.corrected ? 'text-amber-800' : ''}>{a.corrected}</td>
                    <td>{percent(a.reviewed ? a.accepted / a.reviewed : null)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}

          {stats.data.recent.length > 0 && (
            <div>
              <h3 className="mb-1 font-medium">Recent decisions</h3>
              <ul className="divide-y divide-slate-100">
                {stats.data.recent.map((r) => (
                  <li key={r.reviewId} className="flex flex-wrap gap-x-3 py-1" data-decision={r.decision}>
                    <span className="text-slate-500">{new Date(r.createdAt).toLocaleString()}</span>
                    <span>
                      {r.reviewer} <strong>{r.decision === 'accept' ? 'accepted' : r.decision === 'reject' ? 'rejected' : 'corrected'}</strong> judgment #{r.judgmentId} by {r.annotator}
                    </span>
                    <span className="text-slate-600">
                      ({sideNames[r.original.choice]}
                      {r.original.strength ? `, ${strengthLabels[r.original.strength].toLowerCase()}` : ''}
                      {r.correction ? ` → ${sideNames[r.correction.choice]}${r.correction.strength ? `, ${strengthLabels[r.correction.strength].toLowerCase()}` : ''}` : ''})
                    </span>
                    {r.note && <span className="text-slate-600 italic">“{r.note}”</span>}
                  </li>
                ))}
              </ul>
            </div>
          )}
        </div>
      )}
    </section>
  );
}

function Figure({ label, value, sub }: { label: string; value: number | string; sub: string }) {
  return (
    <div className="rounded border border-slate-100 p-2">
      <dt className="text-slate-500">{label}</dt>
      <dd className="text-lg font-semibold tabular-nums">{typeof value === 'number' ? value.toLocaleString() : value}</dd>
      <dd className="text-xs text-slate-500">{sub}</dd>
    </div>
  );
}
