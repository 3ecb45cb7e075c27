import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { Markdown } from '@/app/_components/markdown';

/** What the annotator's page renders for a message: single newlines kept as line breaks. */
const html = (text: string, breaks: boolean) => renderToStaticMarkup(createElement(Markdown, { text, breaks }));

describe('markdown with the writer’s line breaks', () => {
  const melody = 'X:1\nT:Untitled Folk Tune\nM:4/4\nL:1/8\nK:G\n|:G2A2|B2A2|G2E2|D4|';

  it('a single newline is a line break in messages, and a space in documents (CommonMark)', () => {
    expect(html(melody, true)).toBe('<div class="markdown"><p>X:1<br/>\nT:Untitled Folk Tune<br/>\nM:4/4<br/>\nL:1/8<br/>\nK:G<br/>\n|:G2A2|B2A2|G2E2|D4|</p></div>');
    expect(html(melody, false)).not.toContain('<br');
  });

  it('code blocks, lists and tables stay markdown: no line breaks added inside them', () => {
    const text = 'Steps:\n1. read\n2. swap\n\n```cpp\nint main() {\n  return 0;\n}\n```\n\n| a | b |\n| - | - |\n| 1 | 2 |';
    const out = html(text, true);
    expect(out).toContain('<ol>');
    expect(out).toContain('<table>');
    const block = out.slice(out.indexOf('<pre>'), out.indexOf('</pre>'));
    expect(block).not.toContain('<br');
    // The highlighter wraps tokens in spans; the text, indentation and newlines are the code's.
    expect(block.replace(/<[^>]+>/g, '')).toContain('int main() {\n  return 0;\n}');
  });

  it('raw HTML in a message stays text', () => {
    expect(html('<b>bold</b>\nnext', true)).toBe('<div class="markdown"><p>&lt;b&gt;bold&lt;/b&gt;<br/>\nnext</p></div>');
  });
});
