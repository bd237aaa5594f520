import { configSpec, type FieldSpec, type NullableSpec } from './configSpec';

function fieldSchema(spec: NullableSpec): Record<string, unknown> {
  const s = toSchema(spec);
  return spec.nullable ? { ...s, type: [s.type, 'null'] } : s;
}

function toSchema(spec: FieldSpec): Record<string, unknown> & { type: string } {
  const d = { description: spec.description };
  switch (spec.type) {
    case 'string':
      return { type: 'string', ...d, ...(spec.minLength ? { minLength: spec.minLength } : {}) };
    case 'number':
      return { type: 'number', ...d, ...(spec.min !== undefined ? (spec.exclusiveMin ? { exclusiveMinimum: spec.min } : { minimum: spec.min }) : {}) };
    case 'integer':
      return { type: 'integer', ...d, ...(spec.min !== undefined ? { minimum: spec.min } : {}) };
    case 'boolean':
      return { type: 'boolean', ...d };
    case 'enum':
      return { type: 'string', enum: [...spec.values], ...d };
    case 'stringArray':
      return { type: 'array', items: { type: 'string', minLength: 1 }, ...d, ...(spec.minItems ? { minItems: spec.minItems } : {}) };
    case 'stringMap':
      return { type: 'object', additionalProperties: { type: 'string' }, ...d };
    case 'object':
      return { type: 'object', ...d, additionalProperties: false, properties: Object.fromEntries(Object.entries(spec.fields).map(([k, f]) => [k, fieldSchema(f)])) };
  }
}

/** The JSON schema of `ratchet.json`, generated from the same spec the validator uses. */
export function ratchetJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'Ratchet workspace configuration',
    type: 'object',
    additionalProperties: false,
    properties: Object.fromEntries(Object.entries(configSpec).map(([k, f]) => [k, fieldSchema(f)])),
  };
}
