'use client';

import { memo } from 'react';
import ReactMarkdown, { type Components } from 'react-markdown';
import rehypeHighlight from 'rehype-highlight';
import remarkGfm from 'remark-gfm';

// Untrusted text: no rehype-raw, so raw HTML in the source is shown as text, never parsed;
// react-markdown's default URL transform drops javascript: and other unsafe link targets.
const components: Components = {
  a: ({ href, children }) => (
    <a href={href} target="_blank" rel="noopener noreferrer nofollow ugc">
      {children}
    </a>
  ),
  // Remote images would let content phone home when an annotator opens it: show the alt text.
  img: ({ alt }) => <span className="rounded bg-slate-100 px-1 text-slate-500">[image{alt ? `: ${alt}` : ''}]</span>,
  table: ({ children }) => (
    <div className="table-scroll">
      <table>{children}</table>
    </div>
  ),
};

// Highlighting a huge block would freeze the page: past this size code shows unhighlighted.
const HIGHLIGHT_LIMIT = 20_000;

function MarkdownImpl({ text }: { text: string }) {
  const rehypePlugins = text.length <= HIGHLIGHT_LIMIT ? [[rehypeHighlight, { detect: false, ignoreMissing: true }] as never] : [];
  return (
    <div className="markdown">
      <ReactMarkdown remarkPlugins={[remarkGfm]} rehypePlugins={rehypePlugins} components={components} skipHtml={false}>
        {text}
      </ReactMarkdown>
    </div>
  );
}

export const Markdown = memo(MarkdownImpl);
