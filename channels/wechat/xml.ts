/**
 * The small XML dialect of WeChat pushes and passive replies: one `<xml>` root whose children are
 * elements holding text or CDATA (a few events nest one more level). A strict reader of exactly
 * that, rather than a general XML library: no DOCTYPE, no entity definitions (nothing to expand, so
 * no XXE or billion-laughs), and anything malformed is an error naming what is wrong.
 */
import { AppError } from '../../core/app-error.js';

/** A push that is not the XML WeChat sends (HTTP 400). */
export class WeChatXmlError extends AppError {
  readonly code = 'WECHAT_MALFORMED_XML';
}

/** The fields of a push: element name → text; nested elements as records. */
export interface XmlFields {
  [name: string]: string | XmlFields;
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
const MAX_DEPTH = 4;
/** Names that would reach an object's prototype as keys (issue 14: refused wherever input becomes keys). */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function decodeText(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, e: string) => {
    if (e[0] === '#') {
      const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      if (!Number.isFinite(code) || code > 0x10ffff) throw new WeChatXmlError(`bad character reference ${whole}`);
      return String.fromCodePoint(code);
    }
    const v = ENTITIES[e.toLowerCase()];
    if (v === undefined) throw new WeChatXmlError(`unknown entity ${whole}`);
    return v;
  });
}

/** Parses a WeChat XML document (`<xml>…</xml>`) into its fields. */
export function parseWeChatXml(input: string): XmlFields {
  let i = 0;
  const s = input;
  const skipSpace = () => {
    while (i < s.length && /\s/.test(s[i])) i++;
  };
  const fail = (what: string): never => {
    throw new WeChatXmlError(`malformed XML at character ${i}: ${what}`);
  };
  skipSpace();
  if (s.startsWith('<?xml', i)) {
    const end = s.indexOf('?>', i);
    if (end < 0) fail('unterminated XML declaration');
    i = end + 2;
    skipSpace();
  }
  if (s.startsWith('<!', i) && !s.startsWith('<![CDATA[', i)) fail('DOCTYPE and declarations are not accepted');

  const readName = (): string => {
    const m = /^[A-Za-z_][A-Za-z0-9_.-]*/.exec(s.slice(i, i + 128));
    if (!m) fail('expected an element name');
    i += m![0].length;
    return m![0];
  };

  // Reads the content of an element whose start tag has been read, up to and including its end tag.
  const readContent = (name: string, depth: number): string | XmlFields => {
    let text = '';
    let fields: XmlFields | null = null;
    for (;;) {
      if (i >= s.length) fail(`<${name}> is not closed`);
      if (s.startsWith('<![CDATA[', i)) {
        const end = s.indexOf(']]>', i + 9);
        if (end < 0) fail('unterminated CDATA');
        text += s.slice(i + 9, end);
        i = end + 3;
      } else if (s.startsWith('<!--', i)) {
        const end = s.indexOf('-->', i + 4);
        if (end < 0) fail('unterminated comment');
        i = end + 3;
      } else if (s.startsWith('</', i)) {
        i += 2;
        const closing = readName();
        if (closing !== name) fail(`</${closing}> closes <${name}>`);
        skipSpace();
        if (s[i] !== '>') fail(`expected > after </${closing}`);
        i++;
        if (fields) {
          if (text.trim() !== '') fail(`<${name}> mixes text and elements`);
          return fields;
        }
        return text;
      } else if (s[i] === '<') {
        if (s.startsWith('<!', i) || s.startsWith('<?', i)) fail('declarations are not accepted inside elements');
        if (depth >= MAX_DEPTH) fail('elements nested too deeply');
        i++;
        const child = readName();
        if (PROTOTYPE_KEYS.has(child)) fail(`element name <${child}> is not allowed`);
        skipSpace();
        // WeChat's elements carry no attributes; anything else here is not its XML.
        if (s.startsWith('/>', i)) {
          i += 2;
          (fields ??= {})[child] = '';
          continue;
        }
        if (s[i] !== '>') fail(`unexpected attribute or character in <${child}>`);
        i++;
        const value = readContent(child, depth + 1);
        fields ??= {};
        // A repeated element (a list inside an event) keeps its first value; none of the fields read here repeat.
        if (!Object.hasOwn(fields, child)) fields[child] = value;
      } else {
        const next = s.indexOf('<', i);
        if (next < 0) fail(`<${name}> is not closed`);
        text += decodeText(s.slice(i, next));
        i = next;
      }
    }
  };

  if (s[i] !== '<') fail('expected <xml>');
  i++;
  const root = readName();
  if (root !== 'xml') fail(`root element is <${root}>, not <xml>`);
  skipSpace();
  if (s[i] !== '>') fail('expected > after <xml');
  i++;
  const fields = readContent('xml', 1);
  skipSpace();
  if (i !== s.length) fail('content after </xml>');
  if (typeof fields === 'string') {
    if (fields.trim() !== '') fail('<xml> holds text, not fields');
    return {};
  }
  return fields;
}

/** A text field of a push (nested records and absent fields read as undefined). */
export function field(fields: XmlFields, name: string): string | undefined {
  const v = fields[name];
  return typeof v === 'string' ? v : undefined;
}

/** Text safely inside CDATA (a "]]>" in the text is split across two sections). */
export function cdata(text: string): string {
  return `<![CDATA[${text.split(']]>').join(']]]]><![CDATA[>')}]]>`;
}
