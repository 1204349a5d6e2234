import { describe, expect, it } from 'vitest';
import { runFixture, VARIANTS } from '../harness/fixture';
import { ROOT } from '../harness/fixture';
import { join } from 'node:path';

// The README's first command, exactly: a new user sees a trace tree from the ESM and the CJS example.
describe.each(VARIANTS)('examples/hello.%s with OTEL_TRACES_EXPORTER=console', (ext) => {
  it('prints the response and the trace tree', async () => {
    const r = await runFixture({ fixture: join(ROOT, `examples/hello.${ext}`), env: { OTEL_TRACES_EXPORTER: 'console', OTEL_BSP_SCHEDULE_DELAY: undefined } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('response: {"order":"42","prices":{"apple":1}}');
    const normalized = lines.slice(1).map((l) =>
      l
        .replace(/\d+\.\d ms/, 'N ms')
        .replace(/trace [0-9a-f]{32}/, 'trace ID')
        .replace(/127\.0\.0\.1:\d+/, 'HOST'),
    );
    expect(normalized).toEqual([
      'GET http://HOST/orders/:id  client  200  N ms  trace ID',
      '└─ GET /orders/:id  server  200  N ms',
      '   ├─ fs readFile  internal  N ms',
      '   └─ GET http://HOST/prices  client  200  N ms',
      '      └─ GET /prices  server  200  N ms',
    ]);
  });
});
