import { z } from 'zod';

/**
 * Plausible and hostile inputs for a procedure, derived from its zod input schema, so that the
 * hostile-input suite covers every procedure the router has, including ones added later,
 * without a hand-written list to keep in step.
 */

type TJson = null | boolean | number | string | TJson[] | { [key: string]: TJson };
type TJsonSchema = {
  type?: string | string[];
  enum?: TJson[];
  const?: TJson;
  properties?: Record<string, TJsonSchema>;
  required?: string[];
  items?: TJsonSchema;
  anyOf?: TJsonSchema[];
  oneOf?: TJsonSchema[];
  allOf?: TJsonSchema[];
  minimum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  minItems?: number;
  format?: string;
  pattern?: string;
  default?: TJson;
};

/** The procedure's input as JSON Schema (input side: defaults optional, transforms ignored). */
export function inputJsonSchema(schema: z.ZodType): TJsonSchema {
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as TJsonSchema;
}

/** Values that name existing things in the test's fixture, by field name. */
export type TFieldHints = Record<string, TJson>;

/** A value the schema accepts, as far as a generic sampler can tell (hints win by field name). */
export function sampleValue(schema: TJsonSchema, hints: TFieldHints, key = ''): TJson {
  if (key in hints) return hints[key] ?? null;
  if (schema.const !== undefined) return schema.const;
  if (schema.enum?.length) return schema.enum[0] ?? null;
  if (schema.default !== undefined) return schema.default;
  const options = schema.anyOf ?? schema.oneOf;
  const [firstOption] = options ?? [];
  if (firstOption) return sampleValue(options!.find((o) => o.type !== 'null') ?? firstOption, hints, key);
  if (schema.allOf?.[0]) return sampleValue(schema.allOf[0], hints, key);
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'object': {
      // Required fields only (and hinted ones): optional fields often only make sense together
      // (a correction's choice, a range's end), and each is attacked on its own anyway.
      const out: Record<string, TJson> = {};
      const required = new Set(schema.required ?? []);
      for (const [name, property] of Object.entries(schema.properties ?? {})) {
        if (required.has(name) || name in hints) out[name] = sampleValue(property, hints, name);
      }
      return out;
    }
    case 'array':
      return Array.from({ length: Math.max(1, schema.minItems ?? 1) }, () => sampleValue(schema.items ?? {}, hints, key));
    case 'integer':
    case 'number':
      return Math.max(1, Math.ceil(schema.minimum ?? 1), Math.floor((schema.exclusiveMinimum ?? 0) + 1));
    case 'boolean':
      return true;
    case 'string':
      if (schema.format === 'uri' || schema.format === 'url') return 'http://127.0.0.1:9/v1';
      if (schema.format === 'email') return 'someone@test.local';
      if (schema.format === 'date-time') return '2099-01-01T00:00:00.000Z';
      return 'x'.repeat(Math.max(1, schema.minLength ?? 1));
    default:
      return 'x';
  }
}

/**
 * JSON text spliced into a request body as is: nesting this deep cannot be built as a value
 * and serialized (JSON.stringify recurses), yet any client can send it.
 */
export class RawJson {
  constructor(readonly text: string) {}
}

/** `value` as JSON, with RawJson parts spliced in verbatim. */
export function encodeJson(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof RawJson) {
      raws.push(v.text);
      return `\u0000raw${raws.length - 1}\u0000`;
    }
    return v;
  });
  return text === undefined ? '' : text.replace(/"\\u0000raw(\d+)\\u0000"/g, (_m, i: string) => raws[Number(i)] ?? 'null');
}

const DEPTH = 5_000;

/** Hostile replacements for one field: wrong types, text PostgreSQL refuses, huge and deep values, out-of-range numbers. */
export function hostileValues(): { name: string; value: unknown }[] {
  const deep = new RawJson(`${'['.repeat(DEPTH)}"bottom"${']'.repeat(DEPTH)}`);
  const deepObject = new RawJson(`${'{"a":'.repeat(DEPTH)}{}${'}'.repeat(DEPTH)}`);
  return [
    { name: 'null', value: null },
    { name: 'wrong type: number', value: 12345 },
    { name: 'wrong type: string', value: 'not-what-you-expect' },
    { name: 'wrong type: object', value: { nested: true } },
    { name: 'wrong type: array', value: ['a', 1, null] },
    { name: 'empty string', value: '' },
    { name: 'NUL character', value: 'a\u0000b' },
    { name: 'lone surrogate', value: 'a\ud800b' },
    { name: 'huge string (2 MB)', value: 'x'.repeat(2_000_000) },
    { name: 'negative number', value: -1 },
    { name: 'beyond int4', value: 2_147_483_648 },
    { name: 'beyond int8', value: 9.3e18 },
    { name: 'fraction', value: 1.5 },
    { name: 'huge number', value: 1e308 },
    { name: 'unknown slug', value: 'no-such-thing-anywhere' },
    { name: 'unknown id', value: 2_000_000_000 },
    { name: 'deep array (5,000 levels)', value: deep },
    { name: 'deep object (5,000 levels)', value: deepObject },
  ];
}

/** Whole-input payloads that are wrong before any field is looked at. */
export function hostileWholeInputs(): { name: string; value: unknown }[] {
  return [
    { name: 'no input', value: undefined },
    { name: 'null input', value: null },
    { name: 'number input', value: 7 },
    { name: 'string input', value: 'x' },
    { name: 'array input', value: [] },
    { name: 'empty object', value: {} },
  ];
}
