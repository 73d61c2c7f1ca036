// RFC 8785 (JCS) vectors, written out from the RFC: §3.2.2 (the sample with numbers, escapes and
// literals), §3.2.3 (property sorting by UTF-16 code units) and Appendix B (number serialisation).
// Signatures cover these bytes on both sides, so a single divergence here is a refused release.
import { describe, expect, it } from 'vitest';
import {
  CanonicalJsonError,
  canonicalJson,
  canonicalJsonBytes,
  parseJson,
  sha256Hex,
} from '../../proto/index.ts';

function canonicalOfText(text: string): string {
  const parsed = parseJson(text);
  if (!parsed.ok) throw new Error(parsed.detail);
  return canonicalJson(parsed.value);
}

function doubleFromHex(hex: string): number {
  return Buffer.from(hex, 'hex').readDoubleBE(0);
}

describe('RFC 8785 §3.2.2: the sample input', () => {
  it('canonicalizes numbers, string escapes and literals exactly as the RFC prints', () => {
    const input = String.raw`{
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }`;
    expect(canonicalOfText(input)).toBe(
      String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`,
    );
  });

  it('produces the same UTF-8 bytes as the RFC hex dump', () => {
    const bytes = canonicalJsonBytes({
      literals: [null, true, false],
      numbers: [333333333.3333333, 1e30, 4.5, 0.002, 1e-27],
      string: '€$\u000f\nA\'B"\\\\"/',
    });
    expect(Buffer.from(bytes).toString('hex')).toBe(
      '7b226c69746572616c73223a5b6e756c6c2c747275652c66616c73655d2c226e' +
        '756d62657273223a5b3333333333333333332e333333333333332c31652b3330' +
        '2c342e352c302e3030322c31652d32375d2c22737472696e67223a22e282ac24' +
        '5c75303030665c6e4127425c225c5c5c5c5c222f227d',
    );
  });
});

describe('RFC 8785 §3.2.3: property sorting by UTF-16 code units', () => {
  it('orders the RFC sample (\\r, 1, U+0080, ö, €, 😀, U+FB33) and keeps the characters raw', () => {
    const input = String.raw`{
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    }`;
    expect(canonicalOfText(input)).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","ö":"Latin Small Letter O With Diaeresis",' +
        '"€":"Euro Sign","😀":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  it('sorts a surrogate pair (U+1F600) before U+FB33 although its code point is larger', () => {
    // UTF-16 code units 0xD83D… < 0xFB33, while code points 0x1F600 > 0xFB33.
    expect(canonicalJson({ '\ufb33': 1, '\u{1f600}': 2 })).toBe('{"😀":2,"\ufb33":1}');
  });

  it('sorts nested objects recursively and leaves array order alone', () => {
    expect(canonicalJson({ b: [3, { z: 1, a: 2 }, 1], a: { d: null, c: true } })).toBe(
      '{"a":{"c":true,"d":null},"b":[3,{"a":2,"z":1},1]}',
    );
  });
});

describe('RFC 8785 Appendix B: number serialisation', () => {
  const vectors: [string, string][] = [
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ];
  it.each(vectors)('IEEE 754 %s serialises as %s', (hex, expected) => {
    expect(canonicalJson(doubleFromHex(hex))).toBe(expected);
    expect(canonicalJson([doubleFromHex(hex)])).toBe(`[${expected}]`);
  });

  it.each([
    ['7fffffffffffffff', 'NaN'],
    ['7ff0000000000000', 'Infinity'],
    ['fff0000000000000', '-Infinity'],
  ])('IEEE 754 %s (%s) is an error, as the RFC requires', (hex) => {
    expect(() => canonicalJson({ n: doubleFromHex(hex) })).toThrow(CanonicalJsonError);
  });
});

describe('I-JSON input domain (RFC 8785 §3.1)', () => {
  it('refuses an unpaired surrogate in a string or a key, naming its JSON pointer', () => {
    expect(() => canonicalJson({ a: ['ok', 'bad\ud800'] })).toThrow(/\/a\/1: .*surrogate/);
    expect(() => canonicalJson({ 'k\udc00': 1 })).toThrow(CanonicalJsonError);
  });

  it('escapes controls as the RFC does and leaves U+2028, U+2029 and "/" raw', () => {
    expect(canonicalJson('\u0000\u0008\t\n\u000b\f\r\u001f\u2028\u2029/')).toBe(
      '"\\u0000\\b\\t\\n\\u000b\\f\\r\\u001f\u2028\u2029/"',
    );
  });

  it('drops undefined members like JSON.stringify, refuses undefined array items and non-plain objects', () => {
    expect(canonicalJson({ a: 1, b: undefined })).toBe('{"a":1}');
    expect(() => canonicalJson([undefined])).toThrow(CanonicalJsonError);
    expect(() => canonicalJson({ d: new Date(0) })).toThrow(/plain objects/);
    expect(() => canonicalJson({ n: 1n })).toThrow(/bigint/);
  });

  it('refuses cyclic values instead of overflowing the stack', () => {
    const a: Record<string, unknown> = {};
    a.self = a;
    expect(() => canonicalJson(a)).toThrow(/cyclic/);
  });

  it('is idempotent and ignores whitespace and member order of the source text', () => {
    const a = canonicalOfText('{ "b" : [1, 2.0, {"y": "z", "x": 1e2}], "a": "\\u00e9" }');
    const b = canonicalOfText('{"a":"é","b":[1,2,{"x":100,"y":"z"}]}');
    expect(a).toBe(b);
    expect(canonicalOfText(a)).toBe(a);
  });
});

describe('parseJson and sha256Hex', () => {
  it('refuses invalid UTF-8 and a byte-order mark rather than guessing', () => {
    expect(parseJson(new Uint8Array([0x22, 0xff, 0x22])).ok).toBe(false);
    expect(parseJson(new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d])).ok).toBe(false);
    expect(parseJson('{"a":').ok).toBe(false);
  });

  it('hashes to lowercase hex SHA-256 (the empty-string vector)', () => {
    expect(sha256Hex(new Uint8Array())).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
