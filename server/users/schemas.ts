import { z } from 'zod';

export const roles = ['admin', 'reviewer', 'annotator'] as const;
export const ZRole = z.enum(roles);
export type TRole = z.infer<typeof ZRole>;

export const ZEmail = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.email({ message: 'must be an email address' }));

export const ZPassword = z.string().min(8, 'must be at least 8 characters').max(200, 'must be at most 200 characters');

export const ZCreateUser = z.object({
  email: ZEmail,
  password: ZPassword,
  role: ZRole,
  name: z.string().trim().max(200).optional(),
});
export type TCreateUser = z.input<typeof ZCreateUser>;

/** What the rest of the app knows about the signed-in user. */
export interface TSessionUser {
  id: number;
  email: string;
  role: TRole;
}
