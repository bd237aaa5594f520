import * as path from 'node:path';
import { remoteProtocol, validParticipant } from '../platform/remoteUrl';
import type { RatchetConfig } from './configTypes';
import { configSpec, type FieldSpec, type NullableSpec } from './configSpec';
import { defaultConfig } from './defaults';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  return `${typeof v} ${JSON.stringify(v)}`;
}

function checkField(spec: NullableSpec, value: unknown, key: string, file: string): void {
  const fail = (what: string): never => {
    throw new ConfigError(`${file}: "${key}" ${what}, got ${describe(value)}`);
  };
  if (value === null) {
    if (spec.nullable) return;
    fail('may not be null');
  }
  switch (spec.type) {
    case 'string':
      if (typeof value !== 'string') fail('must be a string');
      if (spec.minLength && (value as string).length < spec.minLength) fail('must not be empty');
      return;
    case 'number':
    case 'integer':
      if (typeof value !== 'number' || !Number.isFinite(value)) fail(`must be a${spec.type === 'integer' ? 'n integer' : ' number'}`);
      if (spec.type === 'integer' && !Number.isInteger(value)) fail('must be an integer');
      if (spec.min !== undefined) {
        const exclusive = spec.type === 'number' && spec.exclusiveMin;
        if (exclusive ? (value as number) <= spec.min : (value as number) < spec.min) fail(`must be ${exclusive ? 'greater than' : 'at least'} ${spec.min}`);
      }
      return;
    case 'boolean':
      if (typeof value !== 'boolean') fail('must be true or false');
      return;
    case 'enum':
      if (typeof value !== 'string' || !spec.values.includes(value)) fail(`must be one of ${spec.values.map((v) => `"${v}"`).join(', ')}`);
      return;
    case 'stringArray':
      if (!Array.isArray(value) || value.some((s) => typeof s !== 'string' || s.length === 0)) fail('must be an array of non-empty strings');
      if (spec.minItems && (value as unknown[]).length < spec.minItems) fail(`must have at least ${spec.minItems} item${spec.minItems > 1 ? 's' : ''}`);
      return;
    case 'stringMap':
      if (!isPlainObject(value) || Object.values(value).some((s) => typeof s !== 'string')) fail('must be an object of string values');
      for (const k of Object.keys(value as object)) checkKey(k, `${key}.`, file);
      return;
    case 'object':
      if (!isPlainObject(value)) fail('must be an object');
      checkObject(spec.fields, value as Record<string, unknown>, `${key}.`, file);
      return;
  }
}

/** Keys that name a prototype's machinery: never a setting, and never copied into the config. */
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function checkKey(k: string, prefix: string, file: string): void {
  if (RESERVED_KEYS.has(k)) throw new ConfigError(`${file}: key "${prefix}${k}" is not allowed (${[...RESERVED_KEYS].join(', ')} are reserved names)`);
}

function checkObject(fields: Record<string, FieldSpec | NullableSpec>, obj: Record<string, unknown>, prefix: string, file: string): void {
  for (const [k, v] of Object.entries(obj)) {
    checkKey(k, prefix, file);
    const spec = Object.hasOwn(fields, k) ? fields[k] : undefined;
    if (!spec) {
      const known = Object.keys(fields).filter((f) => f !== '$schema');
      throw new ConfigError(`${file}: unknown key "${prefix}${k}" (known: ${known.join(', ')})`);
    }
    checkField(spec, v, prefix + k, file);
  }
}

function mergeDefaults<T>(base: T, over: unknown): T {
  if (!isPlainObject(over) || !isPlainObject(base)) return (over === undefined ? base : over) as T;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    // Defined, never assigned: a key can only ever become an own property.
    Object.defineProperty(out, k, { value: isPlainObject(v) && Object.hasOwn(out, k) && isPlainObject(out[k]) ? mergeDefaults(out[k], v) : v, enumerable: true, writable: true, configurable: true });
  }
  return out as T;
}

/** A workspace-relative path that stays inside the workspace, normalised to forward slashes. */
export function checkRelativePath(p: string, key: string, file: string): string {
  if (path.isAbsolute(p) || /^[a-zA-Z]:[\\/]/.test(p)) throw new ConfigError(`${file}: "${key}" must name workspace-relative paths, got absolute path ${JSON.stringify(p)}`);
  const norm = path.posix.normalize(p.replace(/\\/g, '/'));
  if (norm === '..' || norm.startsWith('../') || norm === '.') throw new ConfigError(`${file}: "${key}" names ${JSON.stringify(p)}, which is outside the workspace`);
  const first = norm.split('/')[0];
  if (first === '.git' || first === '.ratchet') throw new ConfigError(`${file}: "${key}" names ${JSON.stringify(p)}, inside ${first}/, which Ratchet owns`);
  return norm;
}

/** Seconds past the budget a run may take by default: the budget itself, at least 60 s (start-up, compilation, the final evaluation). */
export function defaultGraceSeconds(budgetSeconds: number): number {
  return Math.max(60, budgetSeconds);
}

/** When a run is terminated, in seconds from its process start. */
export function hardDeadlineSeconds(budget: { seconds: number; graceSeconds: number; deadlineSeconds?: number }): number {
  return budget.deadlineSeconds ?? budget.seconds + budget.graceSeconds;
}

/** Validates parsed `ratchet.json` contents and fills defaults. */
export function validateConfig(raw: unknown, file = 'ratchet.json'): RatchetConfig {
  if (!isPlainObject(raw)) throw new ConfigError(`${file}: must hold a JSON object, got ${describe(raw)}`);
  checkObject(configSpec, raw, '', file);
  const { $schema: _ignored, ...rest } = raw;
  const config = mergeDefaults(defaultConfig(), rest);
  config.editable = config.editable.map((p) => checkRelativePath(p, 'editable', file));
  config.protected = config.protected.map((p) => checkRelativePath(p, 'protected', file));
  const both = config.editable.find((p) => config.protected.includes(p));
  if (both) throw new ConfigError(`${file}: "${both}" is both editable and protected: a file can be one or the other`);
  const rawBudget = isPlainObject(rest.budget) ? rest.budget : {};
  if (rawBudget.graceSeconds === undefined) config.budget.graceSeconds = defaultGraceSeconds(config.budget.seconds);
  if (config.budget.deadlineSeconds !== undefined && config.budget.deadlineSeconds < config.budget.seconds) {
    throw new ConfigError(`${file}: "budget.deadlineSeconds" (${config.budget.deadlineSeconds}) is shorter than "budget.seconds" (${config.budget.seconds}): every run would be killed before its budget ends`);
  }
  if (config.budget.steps !== undefined && config.budget.tokens !== undefined) {
    throw new ConfigError(`${file}: "budget.steps" and "budget.tokens" are both set: choose one`);
  }
  if (config.search?.debugProbability !== undefined && config.search.debugProbability > 1) {
    throw new ConfigError(`${file}: "search.debugProbability" is ${config.search.debugProbability}: a probability is at most 1`);
  }
  if (config.pool) {
    if (!config.pool.remote) throw new ConfigError(`${file}: "pool.remote" is required when "pool" is set`);
    try {
      remoteProtocol(config.pool.remote);
    } catch (err) {
      throw new ConfigError(`${file}: "pool.remote": ${(err as Error).message}`);
    }
    if (config.pool.participant !== undefined && !validParticipant(config.pool.participant)) throw new ConfigError(`${file}: "pool.participant" must be 1-40 letters, digits, '.', '_' or '-' starting with a letter or digit, got ${JSON.stringify(config.pool.participant)}`);
  }
  return config;
}
