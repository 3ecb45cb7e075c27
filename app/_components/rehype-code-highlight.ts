import type { ElementContent, Root } from 'hast';
import { toText } from 'hast-util-to-text';
import { createLowlight } from 'lowlight';
import { visit } from 'unist-util-visit';
import { highlightLanguages } from './highlight-languages';

const lowlight = createLowlight(highlightLanguages);

/**
 * Highlights fenced code whose language is registered, like rehype-highlight does; written
 * here because rehype-highlight bundles lowlight's 37 default grammars whatever languages it
 * is given, which alone would cost the annotate page about 40 KB of gzipped JavaScript.
 * Unknown languages and unlabelled fences stay plain (no auto-detection: it is slow and guessy).
 */
export function rehypeCodeHighlight() {
  return (tree: Root) => {
    visit(tree, 'element', (node, _index, parent) => {
      if (node.tagName !== 'code' || parent?.type !== 'element' || parent.tagName !== 'pre') return;
      const classes = Array.isArray(node.properties.className) ? node.properties.className.map(String) : [];
      const language = classes.find((c) => c.startsWith('language-'))?.slice('language-'.length);
      if (!language || !lowlight.registered(language)) return;
      const result = lowlight.highlight(language, toText(node, { whitespace: 'pre' }));
      node.properties.className = ['hljs', ...classes];
      if (result.children.length > 0) node.children = result.children as ElementContent[];
    });
  };
}
