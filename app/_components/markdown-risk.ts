/**
 * When is text unsafe to parse as markdown in the browser? The parser's cost grows with the
 * square of emphasis markers in one paragraph (a 40 KB paragraph of `**x**` took 0.7 s, 150 KB
 * over 10 s), and deep nesting (`>>>>…`, `- - - …`) overflows the stack. Such content (runaway
 * model output, hostile imports) is shown as plain text, which is instant and just as inert.
 */
export const MARKDOWN_LIMITS = { totalChars: 100_000, paragraphChars: 10_000, nesting: 32 };

// A line opening with many container markers: block quotes, list items, or both.
const deepNesting = new RegExp(`^(?:[ \\t]*(?:>|[-*+]|\\d{1,9}[.)])[ \\t]*){${MARKDOWN_LIMITS.nesting},}`, 'm');
// Deeply indented lines nest lists too.
const deepIndent = new RegExp(`^[ \\t]{${MARKDOWN_LIMITS.nesting * 2},}[-*+>]`, 'm');

const isTable = (block: string) => block.split('\n').every((line) => line.trimStart().startsWith('|') || line.trim() === '');

/** Why the text should be shown as plain text, or null when markdown is fine. */
export function markdownRisk(text: string): string | null {
  if (text.length > MARKDOWN_LIMITS.totalChars) return `it is longer than ${MARKDOWN_LIMITS.totalChars.toLocaleString('en')} characters`;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n\n', start);
    if (end < 0) end = text.length;
    // Table cells are parsed one by one, so long tables do not have the quadratic cost.
    if (end - start > MARKDOWN_LIMITS.paragraphChars && !isTable(text.slice(start, end))) {
      return `a paragraph is longer than ${MARKDOWN_LIMITS.paragraphChars.toLocaleString('en')} characters`;
    }
    start = end + 2;
  }
  if (deepNesting.test(text) || deepIndent.test(text)) return `it nests more than ${MARKDOWN_LIMITS.nesting} levels deep`;
  return null;
}
