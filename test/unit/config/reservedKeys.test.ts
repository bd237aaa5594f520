import { describe, expect, it } from 'vitest';
import { ConfigError, validateConfig } from '../../../src/core/config/validateConfig';

/** JSON.parse makes "__proto__" an own key, as reading ratchet.json does (an object literal would not). */
const fromJson = (text: string) => () => validateConfig(JSON.parse(text));

describe('prototype keys in ratchet.json', () => {
  it('rejects "__proto__" inside budget with a clear error (it once gave RATCHET_BUDGET_STEPS=abc)', () => {
    expect(fromJson('{"budget":{"__proto__":{"steps":"abc"}}}')).toThrow(ConfigError);
    expect(fromJson('{"budget":{"__proto__":{"steps":"abc"}}}')).toThrow('ratchet.json: key "budget.__proto__" is not allowed (__proto__, constructor, prototype are reserved names)');
  });

  it('rejects "__proto__", "constructor" and "prototype" at the top level and inside env', () => {
    expect(fromJson('{"__proto__":{"sandbox":"yes"}}')).toThrow('key "__proto__" is not allowed');
    expect(fromJson('{"constructor":{"x":1}}')).toThrow('key "constructor" is not allowed');
    expect(fromJson('{"metric":{"prototype":1}}')).toThrow('key "metric.prototype" is not allowed');
    expect(fromJson('{"env":{"__proto__":"x"}}')).toThrow('key "env.__proto__" is not allowed');
    expect(fromJson('{"env":{"constructor":"x"}}')).toThrow('key "env.constructor" is not allowed');
  });

  it('leaves no inherited budget behind: a valid config has plain Object prototypes and only its own keys', () => {
    const c = validateConfig(JSON.parse('{"budget":{"seconds":5},"env":{"A":"1"}}'));
    expect(Object.getPrototypeOf(c.budget)).toBe(Object.prototype);
    expect(c.budget.steps).toBeUndefined();
    expect(Object.keys(c.env)).toEqual(['A']);
  });

  it('still names other unknown keys (toString is not a setting either)', () => {
    expect(fromJson('{"toString":1}')).toThrow(/unknown key "toString"/);
    expect(fromJson('{"budget":{"hasOwnProperty":1}}')).toThrow(/unknown key "budget.hasOwnProperty"/);
  });
});
