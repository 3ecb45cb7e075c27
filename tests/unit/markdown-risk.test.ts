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

  it('decides in one pass over hostile nesting that falls just short (no backtracking)', () => {
    // 13 quote markers and a letter took 3.3 s with the former regular expression, each more marker 4-6 times longer.
    expect(markdownRisk('>   '.repeat(13) + 'x')).toBeNull();
    expect(markdownRisk(('>   '.repeat(MARKDOWN_LIMITS.nesting - 1) + 'x\n\n').repeat(200))).toBeNull();
    expect(markdownRisk(('1. '.repeat(MARKDOWN_LIMITS.nesting - 1) + 'x\n\n').repeat(200))).toBeNull();
    expect(markdownRisk('>   '.repeat(MARKDOWN_LIMITS.nesting) + 'x')).toMatch(/nests/);
    expect(markdownRisk('1) '.repeat(MARKDOWN_LIMITS.nesting))).toMatch(/nests/);
    // Numbers of ten digits are not list markers (CommonMark allows nine).
    expect(markdownRisk('1234567890. '.repeat(40))).toBeNull();
    expect(markdownRisk(' '.repeat(63) + '- shallow enough')).toBeNull();
  });
});

