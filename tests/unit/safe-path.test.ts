import { describe, expect, it } from 'vitest';
import { safeLocalPath } from '@/app/_components/safe-path';

describe('safeLocalPath', () => {
  it.each(['/projects', '/annotate/x?y=1', '/', '/a/b#frag'])('keeps the local path %j', (path) => {
    expect(safeLocalPath(path)).toBe(path);
  });

  it.each([
    ['an absolute URL to another host', 'https://evil'],
    ['a protocol-relative URL', '//evil.com'],
    ['a backslash that browsers read as a second slash', '/\\evil'],
    ['a relative path', 'projects'],
    ['an empty string', ''],
    ['undefined', undefined],
    ['null', null],
    ['a non-string', ['/projects']],
  ])('turns %s into "/"', (_name, value) => {
    expect(safeLocalPath(value)).toBe('/');
  });
});

describe('safeLocalPath and control characters', () => {
  it('rejects paths that browsers would turn into another host once tabs and newlines are dropped', () => {
    expect(safeLocalPath('/\t/evil.com')).toBe('/');
    expect(safeLocalPath('/\n/evil.com')).toBe('/');
  });
});
