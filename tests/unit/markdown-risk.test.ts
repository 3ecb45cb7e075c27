import { describe, expect, it } from 'vitest';
import { MARKDOWN_LIMITS, markdownRisk } from '@/app/_components/markdown-risk';

describe('markdownRisk', () => {
  it('lets ordinary markdown through', () => {
    expect(markdownRisk('# Title\n\nSome **bold** text.\n\n- a\n  - b\n\n> quote\n>> nested')).toBeNull();
    expect(markdownRisk('| a | b |\n|---|---|\n' + '| 1 | 2 |\n'.repeat(2000))).toBeNull();
  });

  it('shows very long text, long paragraphs and deep nesting as plain text', () => {
    expect(markdownRisk('x'.repeat(MARKDOWN_LIMITS.totalChars + 1))).toMatch(/longer than/);
    expect(markdownRisk('**Note:** this repeats. '.repeat(500))).toMatch(/paragraph/);
    expect(markdownRisk('>'.repeat(5000))).toMatch(/nests/);
    expect(markdownRisk('> - '.repeat(1000))).toMatch(/nests/);
    expect(markdownRisk('- '.repeat(5000))).toMatch(/nests/);
    expect(markdownRisk(' '.repeat(200) + '- deep')).toMatch(/nests/);
  });

  it('counts paragraphs separately, so long documents of short paragraphs stay markdown', () => {
    expect(markdownRisk(('word '.repeat(400) + '\n\n').repeat(20))).toBeNull();
  });
});
