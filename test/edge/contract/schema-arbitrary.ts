/**
 * fast-check arbitraries from the JSON Schemas of an OpenAPI 3.1 document: values that satisfy a schema, and
 * values that break it in one place. Hand-written because the schema-to-arbitrary packages on npm target
 * zod 3 or older JSON Schema drafts; this covers the subset our document uses ($ref, type lists with null,
 * enum/const, string length + pattern, number bounds, objects with required/additionalProperties, arrays,
 * anyOf/oneOf).
 */
import fc from "fast-check";

export type Schema = Record<string, unknown>;

export class SchemaArbitraries {
  /**
   * @param hints values mixed into a named property's generator (e.g. an existing plan id), so valid requests
   *   also reach the success path and not only "no such thing".
   */
  constructor(
    private readonly root: Schema,
    private readonly hints: Record<string, unknown[]> = {},
  ) {}

  resolve(schema: Schema): Schema {
    const ref = schema.$ref as string | undefined;
    if (!ref) return schema;
    const target = ref
      .replace(/^#\//, "")
      .split("/")
      .reduce<unknown>((node, key) => (node as Schema)[key], this.root);
    return this.resolve(target as Schema);
  }

  /** A named value (query parameter, property): its hints mixed with what the schema accepts. */
  named(name: string, schema: Schema): fc.Arbitrary<unknown> {
    const hinted = this.hints[name];
    const arbitrary = this.valid(schema);
    return hinted
      ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...hinted) }, { weight: 1, arbitrary })
      : arbitrary;
  }

  /** Values the schema accepts. */
  valid(input: Schema, depth = 0): fc.Arbitrary<unknown> {
    const schema = this.resolve(input);
    if (schema.const !== undefined) return fc.constant(schema.const);
    if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]));
    const options = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
    if (options) return fc.oneof(...options.map((s) => this.valid(s, depth + 1)));
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    return fc.oneof(...types.map((t) => this.#ofType(t, schema, depth)));
  }

  #ofType(type: string | undefined, schema: Schema, depth: number): fc.Arbitrary<unknown> {
    switch (type) {
      case "null":
        return fc.constant(null);
      case "boolean":
        return fc.boolean();
      case "integer":
        return fc.integer({
          min: Math.max(
            schema.exclusiveMinimum !== undefined
              ? Math.floor(Number(schema.exclusiveMinimum)) + 1
              : Number(schema.minimum ?? -1e6),
            Number.MIN_SAFE_INTEGER,
          ),
          max: Math.min(
            schema.exclusiveMaximum !== undefined
              ? Math.ceil(Number(schema.exclusiveMaximum)) - 1
              : Number(schema.maximum ?? 1e6),
            Number.MAX_SAFE_INTEGER,
          ),
        });
      case "number":
        return fc.double({
          min: Number(schema.minimum ?? schema.exclusiveMinimum ?? -1e6),
          minExcluded: schema.exclusiveMinimum !== undefined,
          max: Number(schema.maximum ?? schema.exclusiveMaximum ?? 1e6),
          maxExcluded: schema.exclusiveMaximum !== undefined,
          noNaN: true,
          noDefaultInfinity: true,
        });
      case "string": {
        if (typeof schema.pattern === "string") return fc.stringMatching(new RegExp(schema.pattern));
        const minLength = Number(schema.minLength ?? 0);
        // Long strings are covered by the invalid side (maxLength + 1); keep valid ones short.
        const maxLength = Math.min(Number(schema.maxLength ?? 40), minLength + 40);
        return fc.string({ minLength, maxLength, unit: "grapheme" });
      }
      case "array":
        return fc.array(this.valid((schema.items as Schema) ?? {}, depth + 1), {
          minLength: Number(schema.minItems ?? 0),
          maxLength: Math.min(Number(schema.maxItems ?? 3), 3),
        });
      case "object": {
        const properties = (schema.properties ?? {}) as Record<string, Schema>;
        const required = (schema.required ?? []) as string[];
        const record: Record<string, fc.Arbitrary<unknown>> = {};
        for (const [name, property] of Object.entries(properties)) record[name] = this.named(name, property);
        return fc.record(record, { requiredKeys: required });
      }
      default:
        return fc.jsonValue({ maxDepth: 1 });
    }
  }

  /** Objects that break the schema in exactly one way (only for object schemas). */
  invalid(input: Schema): fc.Arbitrary<unknown> {
    const schema = this.resolve(input);
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    const required = (schema.required ?? []) as string[];
    const names = Object.keys(properties);
    const base = this.valid(schema) as fc.Arbitrary<Record<string, unknown>>;
    const mutations: fc.Arbitrary<unknown>[] = [
      fc.constantFrom(null, 42, "text", [], true),
      base.map((v) => ({ ...v, unexpected_field_xyz: 1 })),
    ];
    if (required.length > 0) {
      mutations.push(
        fc.tuple(base, fc.constantFrom(...required)).map(([v, drop]) => {
          const copy = { ...v };
          delete copy[drop];
          return copy;
        }),
      );
    }
    if (names.length > 0) {
      mutations.push(
        fc
          .tuple(base, fc.constantFrom(...names))
          .chain(([v, name]) => this.#wrongValue(properties[name]).map((bad) => ({ ...v, [name]: bad }))),
      );
    }
    return fc.oneof(...mutations);
  }

  #wrongValue(input: Schema): fc.Arbitrary<unknown> {
    const schema = this.resolve(input);
    const types = new Set(Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string]);
    const wrong: fc.Arbitrary<unknown>[] = [fc.constant({ nested: true })];
    if (!types.has("string")) wrong.push(fc.constant("not-a-number"));
    if (!types.has("integer") && !types.has("number")) wrong.push(fc.constant(7));
    if (types.has("integer")) wrong.push(fc.constant(1.5));
    if (schema.maximum !== undefined) wrong.push(fc.constant(Number(schema.maximum) + 1));
    if (schema.minimum !== undefined) wrong.push(fc.constant(Number(schema.minimum) - 1));
    if (schema.maxLength !== undefined) wrong.push(fc.constant("x".repeat(Number(schema.maxLength) + 1)));
    if (Array.isArray(schema.enum)) wrong.push(fc.constant("__not_in_enum__"));
    return fc.oneof(...wrong);
  }
}
