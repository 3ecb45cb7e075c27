import { z } from 'zod';
import { apiTokenAccess } from '@/db/schema';

export const apiTokenAccesses = apiTokenAccess.enumValues;
export type TApiTokenAccess = (typeof apiTokenAccesses)[number];

export const ZCreateApiToken = z.object({
  name: z.string().trim().min(1, 'a token needs a name').max(100),
  /** Slugs of the projects the token may reach; the creator must administer every one. */
  projects: z.array(z.string().trim().min(1)).min(1, 'choose at least one project').max(100),
  access: z.enum(apiTokenAccesses).default('read'),
  /** When the token stops working (ISO 8601); none: until revoked. */
  expiresAt: z.iso.datetime({ offset: true }).nullish(),
});
export type TCreateApiToken = z.input<typeof ZCreateApiToken>;

export const ZApiTokenRef = z.object({ id: z.number().int().positive() });

export type TApiTokenStatus = 'active' | 'expired' | 'revoked';
