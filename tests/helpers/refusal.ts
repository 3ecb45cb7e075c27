import { TRPCError } from '@trpc/server';
import { expect } from 'vitest';
import { AppError } from '@/server/errors';

/** What a call was refused with; fails the test when it succeeds. */
async function rejection(call: Promise<unknown>): Promise<unknown> {
  const outcome = await call.then(
    () => ({ refused: false as const }),
    (error: unknown) => ({ refused: true as const, error }),
  );
  if (!outcome.refused) throw new Error('expected the call to be refused');
  return outcome.error;
}

/** A service call refused with an AppError of `code` (and `field`). */
export async function refusal(call: Promise<unknown>, code: AppError['code'], field?: string): Promise<AppError> {
  const error = await rejection(call);
  expect(error, 'expected the call to be refused with an AppError').toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe(code);
  if (field !== undefined) expect((error as AppError).field).toBe(field);
  return error as AppError;
}

/** A tRPC procedure call refused with a TRPCError; its code. */
export async function trpcRefusal(call: Promise<unknown>): Promise<TRPCError['code']> {
  const error = await rejection(call);
  expect(error, 'expected the call to be refused with a TRPCError').toBeInstanceOf(TRPCError);
  return (error as TRPCError).code;
}

/** The code of whatever refused the call (tRPC procedures and services alike). */
export async function refusalCode(call: Promise<unknown>): Promise<string> {
  const error = await rejection(call);
  return error instanceof TRPCError ? error.code : ((error as { code?: string }).code ?? String(error));
}
