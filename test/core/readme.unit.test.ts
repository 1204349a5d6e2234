import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../harness/fixture';
import { VARS } from '../../src/env';

describe('README', () => {
  const md = readFileSync(join(ROOT, 'README.md'), 'utf8');
  it('documents every supported variable, with the default the code uses', () => {
    const block = md.slice(md.indexOf('<!-- VARS:START -->'), md.indexOf('<!-- VARS:END -->'));
    for (const v of VARS) {
      const row = block.split('\n').find((l) => l.startsWith(`| \`${v.name}\` |`));
      expect(row, `${v.name} missing from the README table (run node scripts/readme-vars.mjs --write)`).toBeDefined();
      expect(row).toContain(v.default.replace(/\|/g, '\\|'));
    }
  });
  it('quick start commands name files that exist', () => {
    for (const f of ['examples/hello.mjs', 'examples/hello.cjs', 'examples/jaeger/docker-compose.yaml', 'examples/tempo/docker-compose.yaml', 'examples/collector/docker-compose.yaml']) {
      expect(md).toContain(f);
      expect(() => readFileSync(join(ROOT, f))).not.toThrow();
    }
  });
});
