// RFC 8785 JSON Canonicalization Scheme (JCS). Every signature in nixfleet covers these bytes, and
// verifiers canonicalize what they received rather than re-serialising a typed struct (spec §1.3,
// §1.9), so one byte of difference here is a refused release.
import { createHash } from 'node:crypto';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Input that is not I-JSON (RFC 7493), which RFC 8785 §3.1 requires. `path` is a JSON pointer. */
export class CanonicalJsonError extends Error {
  readonly code = 'canonicalize';
  readonly path: string;
  constructor(path: string, message: string) {
    super(`${path || '/'}: ${message}`);
    this.path = path;
  }
}

// With the `u` flag a well-formed surrogate pair reads as one code point, so only lone surrogates
// match. I-JSON forbids them; ECMAScript would escape them as `\udXXX`, which other JCS
// implementations (serde_jcs among them) cannot reproduce.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

function pointer(path: string, key: string | number): string {
  return `${path}/${String(key).replaceAll('~', '~0').replaceAll('/', '~1')}`;
}

function serializeString(s: string, path: string): string {
  if (LONE_SURROGATE.test(s)) throw new CanonicalJsonError(path, 'string holds an unpaired UTF-16 surrogate');
  // ECMAScript JSON.stringify is exactly RFC 8785 §3.2.2.2: `"` `\\` escaped, \b \t \n \f \r as
  // short escapes, other controls as lowercase \u00xx, everything else (U+2028 included) as is.
  return JSON.stringify(s);
}

function serialize(value: unknown, path: string, ancestors: Set<object>, out: string[]): void {
  if (value === null) {
    out.push('null');
    return;
  }
  switch (typeof value) {
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'number':
      // RFC 8785 §3.2.2.3: ECMAScript Number.prototype.toString (-0 prints as 0); NaN and the
      // infinities have no JSON form.
      if (!Number.isFinite(value)) throw new CanonicalJsonError(path, `${value} is not a JSON number`);
      out.push(JSON.stringify(value));
      return;
    case 'string':
      out.push(serializeString(value, path));
      return;
    case 'object':
      break;
    default:
      throw new CanonicalJsonError(path, `a ${typeof value} has no JSON form`);
  }
  if (ancestors.has(value)) throw new CanonicalJsonError(path, 'value is cyclic');
  ancestors.add(value);
  if (Array.isArray(value)) {
    out.push('[');
    value.forEach((item: unknown, i) => {
      if (i > 0) out.push(',');
      if (item === undefined) throw new CanonicalJsonError(pointer(path, i), 'undefined has no JSON form');
      serialize(item, pointer(path, i), ancestors, out);
    });
    out.push(']');
  } else {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      // Dates, Maps, Buffers… would serialise through toJSON or not at all; make the caller decide.
      throw new CanonicalJsonError(path, 'only plain objects and arrays can be canonicalized');
    }
    const record = value as Record<string, unknown>;
    // Default sort compares UTF-16 code units, which is what RFC 8785 §3.2.3 prescribes. Members
    // whose value is undefined are dropped, as JSON.stringify would, so optional fields in typed
    // producers need no special casing.
    const keys = Object.keys(record)
      .filter((k) => record[k] !== undefined)
      .sort();
    out.push('{');
    keys.forEach((key, i) => {
      if (i > 0) out.push(',');
      out.push(serializeString(key, pointer(path, key)), ':');
      serialize(record[key], pointer(path, key), ancestors, out);
    });
    out.push('}');
  }
  ancestors.delete(value);
}

/** RFC 8785 canonical text of a JSON value. Throws `CanonicalJsonError` for non-I-JSON input. */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  serialize(value, '', new Set(), out);
  return out.join('');
}

/** RFC 8785 canonical bytes (UTF-8) of a JSON value: what signatures and hashes cover. */
export function canonicalJsonBytes(value: unknown): Uint8Array {
  return new Uint8Array(Buffer.from(canonicalJson(value), 'utf8'));
}

export type ParseJsonResult = { ok: true; value: JsonValue } | { ok: false; detail: string };

// `fatal` refuses invalid UTF-8 instead of replacing it; `ignoreBOM` keeps a BOM in the text so that
// JSON.parse refuses it, as RFC 8259 §8.1 lets parsers do and serde_json does.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Parses received bytes (strict UTF-8) as JSON; never throws. */
export function parseJson(input: Uint8Array | string): ParseJsonResult {
  let text: string;
  try {
    text = typeof input === 'string' ? input : utf8.decode(input);
  } catch {
    return { ok: false, detail: 'not valid UTF-8' };
  }
  try {
    return { ok: true, value: JSON.parse(text) as JsonValue };
  } catch (err) {
    return { ok: false, detail: err instanceof Error ? err.message : String(err) };
  }
}

/** Lowercase hex SHA-256 (spec §0.4), of bytes or of a string's UTF-8 encoding. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}
