'use client';

import { Component, memo, type ReactNode } from 'react';
import ReactMarkdown, { type Components } from 'react-markdown';
import remarkBreaks from 'remark-breaks';
import remarkGfm from 'remark-gfm';
import { markdownRisk } from './markdown-risk';
import { rehypeCodeHighlight } from './rehype-code-highlight';

// Untrusted text: no rehype-raw, so raw HTML in the source is shown as text, never parsed;
// react-markdown's default URL transform empties javascript:, data: and other unsafe targets.
const components: Components = {
  // A link whose target was removed as unsafe is shown as text, not as a link to this page.
  a: ({ href, children }) =>
    href ? (
      <a href={href} target="_blank" rel="noopener noreferrer nofollow ugc">
        {children}
      </a>
    ) : (
      <span className="text-slate-500 underline decoration-dotted">{children}</span>
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

/** Text shown as it is: for content too large or too deeply nested to parse as markdown in time. */
function PlainText({ text, reason }: { text: string; reason: string }) {
  return (
    <div className="markdown">
      <p className="text-xs text-slate-500">Shown as plain text: {reason}.</p>
      <pre className="plain-text max-h-[40rem] overflow-auto rounded bg-slate-50 p-2 text-sm whitespace-pre-wrap">{text}</pre>
    </div>
  );
}

/** If markdown rendering throws anyway (a parser edge case), show the raw text instead of breaking the page. */
class MarkdownBoundary extends Component<{ text: string; children: ReactNode }, { failed: boolean }> {
  state = { failed: false };
  static getDerivedStateFromError() {
    return { failed: true };
  }
  render() {
    return this.state.failed ? <PlainText text={this.props.text} reason="it could not be rendered as markdown" /> : this.props.children;
  }
}

const withBreaks = [remarkGfm, remarkBreaks];
const withoutBreaks = [remarkGfm];

/**
 * Markdown as a chat UI shows it. `breaks`: a single newline is a line break, as the writer meant
 * it (a model's poem, ABC notation one header per line, a task statement's lines); CommonMark would
 * join such lines into one paragraph, and the annotator would judge a broken rendering. Documents
 * written as markdown (guidelines) keep CommonMark's rule, where a newline inside a paragraph is a
 * space. Code blocks, tables and lists are markdown either way.
 */
function MarkdownImpl({ text, breaks = false }: { text: string; breaks?: boolean }) {
  const risk = markdownRisk(text);
  if (risk) return <PlainText text={text} reason={risk} />;
  return (
    <MarkdownBoundary text={text}>
      <div className="markdown">
        <ReactMarkdown remarkPlugins={breaks ? withBreaks : withoutBreaks} rehypePlugins={text.length <= HIGHLIGHT_LIMIT ? [rehypeCodeHighlight] : []} components={components}>
          {text}
        </ReactMarkdown>
      </div>
    </MarkdownBoundary>
  );
}

export const Markdown = memo(MarkdownImpl);
