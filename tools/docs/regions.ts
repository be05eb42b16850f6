/**
 * Generated parts of hand-written pages: everything between `<!-- generated:NAME … -->` and
 * `<!-- /generated:NAME -->` belongs to the generator; the rest of the page is prose.
 */

function markers(name: string): { start: RegExp; end: string } {
  return { start: new RegExp(`<!-- generated:${name}\\b[^>]*-->\\n`), end: `<!-- /generated:${name} -->` };
}

function locate(text: string, name: string): { from: number; to: number } {
  const { start, end } = markers(name);
  const opening = start.exec(text);
  const closing = opening ? text.indexOf(end, opening.index) : -1;
  if (!opening || closing === -1) throw new Error(`no generated part '${name}' (<!-- generated:${name} --> … ${end})`);
  return { from: opening.index + opening[0].length, to: closing };
}

/** The generated part `name` of a page. */
export function readRegion(text: string, name: string): string {
  const { from, to } = locate(text, name);
  return text.slice(from, to);
}

/** The page with its generated part `name` replaced by `body` (which ends with a newline). */
export function replaceRegion(text: string, name: string, body: string): string {
  const { from, to } = locate(text, name);
  return `${text.slice(0, from)}${body}${text.slice(to)}`;
}

/** A markdown table; cells are escaped for `|` and must not hold line breaks. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.map((cell) => cell.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), `| ${header.map(() => '---').join(' | ')} |`, ...rows.map(line)].join('\n');
}

export const code = (text: string): string => (text.includes('`') ? `\`\` ${text} \`\`` : `\`${text}\``);
