import { expect } from 'vitest';
import type { TDbHandle } from '@/db/client';
import type { TJudgmentFlag } from '@/db/schema';
import { leaseComparisons } from '@/server/annotation/lease';
import type { TStrength } from '@/server/annotation/strengths';
import { submitJudgment } from '@/server/annotation/submit-judgment';
import type { TProject } from '@/server/projects/projects';
import type { TSessionUser } from '@/server/users/schemas';

/** The id of the comparison imported with `externalId` (see comparisonLines). */
export async function comparisonId(handle: TDbHandle, project: TProject, externalId: string): Promise<number> {
  const [row] = await handle.sql<{ id: number }[]>`select id::int from comparisons where project_id = ${project.id} and external_id = ${externalId}`;
  expect(row, `no comparison ${externalId}`).toBeDefined();
  return row!.id;
}

/**
 * An annotator's pair judgment through the real services (lease, then submit): `choice` is the
 * canonical position (0 = first response as imported) of the response they prefer.
 */
export async function castVote(
  handle: TDbHandle,
  project: TProject,
  annotator: TSessionUser,
  externalId: string,
  choice: 0 | 1,
  strength: TStrength,
  extra: { flags?: TJudgmentFlag[]; rationale?: string } = {},
): Promise<number> {
  const id = await comparisonId(handle, project, externalId);
  const items = await leaseComparisons(handle.db, { projectId: project.id, annotatorId: annotator.id, leaseSeconds: 900, want: 50 });
  const item = items.find((i) => i.comparisonId === id);
  expect(item, `${annotator.email} could not lease ${externalId}`).toBeDefined();
  const [shown] = await handle.sql<{ position: number }[]>`
    select array_position(a.shown_response_ids, cr.response_id) - 1 as position
    from assignments a join comparison_responses cr on cr.comparison_id = a.comparison_id and cr.position = ${choice}
    where a.id = ${item!.assignmentId}`;
  const result = await submitJudgment(handle.db, {
    annotatorId: annotator.id,
    assignmentId: item!.assignmentId,
    clientSubmissionId: crypto.randomUUID(),
    chosenPosition: shown!.position,
    strength,
    timeSpentMs: 1000,
    ...extra,
  });
  return result.judgmentId;
}
