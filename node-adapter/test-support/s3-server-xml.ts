/** The namespace of S3 response documents. */
export const S3_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';

/** Rendered XML, kept apart from text so text is always escaped exactly once. */
export class Markup {
  constructor(readonly xml: string) {}
}

const ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};

/**
 * Escapes text for XML as S3 does (quotes included: ETags come out as
 * `&quot;…&quot;`); control characters other than tab and line breaks become
 * character references.
 */
export function escapeXml(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    const control = code < 0x20 && ch !== '\t' && ch !== '\n' && ch !== '\r';
    out += ENTITIES[ch] ?? (control ? `&#x${code.toString(16)};` : ch);
  }
  return out;
}

/** `<name>content</name>`; text and numbers are escaped, nested elements are not. */
export function el(name: string, content: string | number | boolean | readonly Markup[]): Markup {
  const inner = Array.isArray(content)
    ? content.map((child: Markup) => child.xml).join('')
    : escapeXml(String(content));
  return new Markup(`<${name}>${inner}</${name}>`);
}

/** `el(name, content)` when content is defined, else nothing (for optional elements). */
export function optional(name: string, content: string | number | undefined | null): Markup[] {
  return content === undefined || content === null ? [] : [el(name, content)];
}

/** A whole response document: declaration, then `root` in the S3 namespace. */
export function xmlDocument(root: string, children: readonly Markup[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="${S3_NAMESPACE}">${children
    .map((child) => child.xml)
    .join('')}</${root}>`;
}

/** An error document, as S3 sends it (no namespace on `<Error>`). */
export function errorDocument(
  code: string,
  message: string,
  fields: Record<string, string>,
): string {
  const extra = Object.entries(fields)
    .map(([name, value]) => el(name, value).xml)
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error>${el('Code', code).xml}${el('Message', message).xml}${extra}</Error>`;
}

/** Reverses {@link escapeXml} and the other entities a client may send. */
export function unescapeXml(text: string): string {
  return text.replace(/&(lt|gt|quot|apos|amp|#x[0-9a-fA-F]+|#[0-9]+);/g, (_, entity: string) => {
    if (entity.startsWith('#x')) return String.fromCodePoint(Number.parseInt(entity.slice(2), 16));
    if (entity.startsWith('#')) return String.fromCodePoint(Number.parseInt(entity.slice(1), 10));
    const named: Record<string, string> = { lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' };
    return named[entity] ?? '';
  });
}

/**
 * The text of each `<name>` element directly inside `xml`'s fragments, in order.
 * Request bodies S3 accepts are small and flat, so a pattern is enough; anything it
 * cannot read is reported as MalformedXML by the caller.
 */
export function elementTexts(xml: string, name: string): string[] {
  const pattern = new RegExp(`<${name}(?:\\s[^>]*)?>([\\s\\S]*?)</${name}>`, 'g');
  return [...xml.matchAll(pattern)].map((match) => match[1] ?? '');
}

/** The root element's name, or undefined when `xml` has none. */
export function rootElement(xml: string): string | undefined {
  return /^\s*(?:<\?xml[^>]*\?>\s*)?<([A-Za-z][\w.-]*)[\s>/]/.exec(xml)?.[1];
}
