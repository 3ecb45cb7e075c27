/**
 * When is text unsafe to parse as markdown in the browser? The parser's cost grows with the
 * square of emphasis markers in one paragraph (a 40 KB paragraph of `**x**` took 0.7 s, 150 KB
 * over 10 s), and deep nesting (`>>>>…`, `- - - …`) overflows the stack. Such content (runaway
 * model output, hostile imports) is shown as plain text, which is instant and just as inert.
 */
export const MARKDOWN_LIMITS = { totalChars: 100_000, paragraphChars: 10_000, nesting: 32 };

const isBlank = (c: number) => c === 32 || c === 9; // space, tab
const isDigit = (c: number) => c >= 48 && c <= 57;

/**
 * Whether a line opens with too many container markers (block quotes, list items, or both), or
 * is indented so deeply that lists nest. One pass over the line's start: a regular expression for
 * the same rule backtracked exponentially on lines that fall short (13 quote markers took
 * seconds, each more multiplied it), freezing the page that asked.
 */
function nestsTooDeep(text: string, from: number, to: number): boolean {
  let i = from;
  let indent = 0;
  while (i < to && isBlank(text.charCodeAt(i))) {
    i++;
    indent++;
  }
  if (indent >= MARKDOWN_LIMITS.nesting * 2 && i < to && '-*+>'.includes(text[i]!)) return true;
  let markers = 0;
  for (i = from; i < to; ) {
    while (i < to && isBlank(text.charCodeAt(i))) i++;
    const c = text[i];
    if (c === '>' || c === '-' || c === '*' || c === '+') i++;
    else {
      let digits = 0;
      while (i + digits < to && digits < 10 && isDigit(text.charCodeAt(i + digits))) digits++;
      if (digits === 0 || digits > 9 || (text[i + digits] !== '.' && text[i + digits] !== ')')) break;
      i += digits + 1;
    }
    if (++markers >= MARKDOWN_LIMITS.nesting) return true;
  }
  return false;
}

function anyLineNestsTooDeep(text: string): boolean {
  for (let start = 0; start <= text.length; ) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    if (nestsTooDeep(text, start, end)) return true;
    start = end + 1;
  }
  return false;
}

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
  if (anyLineNestsTooDeep(text)) return `it nests more than ${MARKDOWN_LIMITS.nesting} levels deep`;
  return null;
}
