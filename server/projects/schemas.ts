import { z } from 'zod';
import { ZRole } from '../users/schemas';

export const ZSlug = z
  .string()
  .trim()
  .min(2, 'must be at least 2 characters')
  .max(64, 'must be at most 64 characters')
  .regex(/^[a-z0-9][a-z0-9-]*$/, 'must be lower-case letters, digits and dashes, starting with a letter or digit');

export const ZCreateProject = z.object({
  slug: ZSlug,
  name: z.string().trim().min(1, 'must not be empty').max(200),
  description: z.string().max(5000).optional(),
  judgmentsRequired: z.number().int().min(1).max(50).default(1),
  leaseSeconds: z.number().int().min(10).max(7 * 24 * 3600).default(900),
  editMode: z.enum(['off', 'optional', 'required']).default('optional'),
  allowTies: z.boolean().default(false),
  rankingStrength: z.boolean().default(false),
  live: z.boolean().default(false),
});

/** Settings an admin may change later; every field optional. */
export const ZUpdateProject = z.object({
  name: z.string().trim().min(1, 'must not be empty').max(200).optional(),
  description: z.string().max(5000).optional(),
  judgmentsRequired: z.number().int().min(1).max(50).optional(),
  leaseSeconds: z.number().int().min(10).max(7 * 24 * 3600).optional(),
  editMode: z.enum(['off', 'optional', 'required']).optional(),
  allowTies: z.boolean().optional(),
  rankingStrength: z.boolean().optional(),
  live: z.boolean().optional(),
  goldRate: z.number().min(0).max(1).optional(),
  goldThreshold: z.number().min(0).max(1).optional(),
  goldMinItems: z.number().int().min(1).max(10_000).optional(),
  pauseBelowGold: z.boolean().optional(),
  reviewSampleRate: z.number().min(0).max(1).optional(),
});
export type TUpdateProject = z.input<typeof ZUpdateProject>;
export type TCreateProject = z.input<typeof ZCreateProject>;

export const ZAddMember = z.object({
  projectId: z.number().int().positive(),
  userId: z.number().int().positive(),
  role: ZRole,
});
export type TAddMember = z.input<typeof ZAddMember>;
