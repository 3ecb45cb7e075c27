import fs from 'node:fs';
import path from 'node:path';
import type { APIRequestContext, Page } from 'playwright-core';

export interface TDemoAccount {
  role: string;
  email: string;
  password: string;
}

/** The accounts `npm start --demo` wrote to <data dir>/demo-credentials.txt: admin, annotator, annotator. */
export function readDemoAccounts(dataDir: string): TDemoAccount[] {
  return fs
    .readFileSync(path.join(dataDir, 'demo-credentials.txt'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const [role, email, password] = line.split(' ');
      return { role: role!, email: email!, password: password! };
    });
}

export async function signIn(page: Page, appUrl: string, account: TDemoAccount): Promise<void> {
  await page.goto(`${appUrl}/signin`);
  await page.getByLabel('Email').fill(account.email);
  await page.getByLabel('Password').fill(account.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/projects$/);
}

/** Calls a tRPC mutation as the signed-in user of `request` (superjson wire format, no batching). */
export async function trpcMutation<T>(request: APIRequestContext, appUrl: string, procedure: string, input: unknown): Promise<T> {
  const res = await request.post(`${appUrl}/api/trpc/${procedure}`, { data: { json: input } });
  const body = (await res.json()) as { result?: { data?: { json?: T } } };
  if (!res.ok() || !body.result?.data) throw new Error(`${procedure}: HTTP ${res.status()} ${JSON.stringify(body).slice(0, 500)}`);
  return body.result.data.json as T;
}
