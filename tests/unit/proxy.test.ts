import { NextRequest } from 'next/server';
import { describe, expect, it } from 'vitest';
import { config, proxy } from '@/proxy';

describe('proxy', () => {
  it('answers 400 for a path that does not decode, and lets every other request through', async () => {
    for (const path of ['/api/trpc/%00%ff', '/api/live/turns/%E0%A4%A/stream', '/api/v1/datasets/%E0%A4%A', '/api/auth/%00%ff']) {
      const response = proxy(new NextRequest(`http://localhost${path}`));
      expect(response?.status, path).toBe(400);
      expect(await response!.json()).toMatchObject({ code: 'BAD_REQUEST', field: 'path' });
    }
    for (const path of ['/api/trpc/projects.list', '/api/v1/projects/caf%C3%A9/datasets', '/api/trpc/%00']) {
      expect(proxy(new NextRequest(`http://localhost${path}`)), path).toBeUndefined();
    }
    expect(config.matcher).toContain('/api/:path*');
  });
});
