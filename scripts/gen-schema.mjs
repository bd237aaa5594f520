// Regenerates src/core/config/ratchetSchema.json from the config spec.
import { build } from 'esbuild';
import { writeFileSync } from 'node:fs';
const out = await build({ entryPoints: ['src/core/config/jsonSchema.ts'], bundle: true, write: false, platform: 'node', format: 'cjs' });
const mod = { exports: {} };
new Function('module', 'exports', 'require', out.outputFiles[0].text)(mod, mod.exports, (await import('node:module')).createRequire(import.meta.url));
writeFileSync('src/core/config/ratchetSchema.json', JSON.stringify(mod.exports.ratchetJsonSchema(), null, 2) + '\n');
console.log('wrote src/core/config/ratchetSchema.json');
