/**
 * Bad configuration: every variable of the README table (src/env.ts VARS,
 * so a new variable is covered the day it is added) given an invalid, an
 * empty and an absurd value. An invalid or absurd value gets one warning
 * naming the variable and the default is used; an empty value means unset
 * (OpenTelemetry's rule) and gets no warning. Then a few whole runs: the app
 * runs and still exports with all of it at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, VARS, type AgentConfig } from '../../src/env';
import { parseQueueHooks } from '../../src/instrumentations/queue-hooks/grammar';
import { startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { VARIANTS } from '../harness/fixture';
import { drive, killLeftovers, request, startTracked, wrongWorkAnswers } from './load';

afterAll(killLeftovers);

const INVALID = 'n0t v@lid ¿%';
const ABSURD = ['-1', '1e12', '9'.repeat(40)];

/** Values any string is fine for: named here with the reason, so that a new variable must either validate or say why it cannot. */
const FREE_FORM: Record<string, string> = {
  OTEL_SERVICE_NAME: 'any text is a valid service name',
  OTEL_AGENT_DOCTOR_REPORT: 'a file path the doctor chooses; internal',
};
/** Header names: `-1`, `1e12` and long digit strings are valid RFC 9110 tokens, so only INVALID can be refused. */
const TOKEN_LISTS = new Set([
  'OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST',
  'OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE',
  'OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST',
  'OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE',
]);
/** npm package names: `1e12` and digit strings are valid names (a package that is not installed is warned about at start, test/extra/). */
const PACKAGE_LISTS = new Set(['OTEL_AGENT_EXTRA_INSTRUMENTATIONS']);
/** Validated when the agent starts, by its own parser, rather than by loadConfig. */
const STARTUP_VALIDATED: Record<string, (value: string) => string[]> = {
  OTEL_AGENT_QUEUE_HOOKS: (v) => parseQueueHooks(v).errors,
};

function effective(c: AgentConfig): Omit<AgentConfig, 'sources' | 'warnings'> {
  const { sources: _s, warnings: _w, ...rest } = c;
  return rest;
}
const DEFAULTS = effective(loadConfig({}));
const NAMES = VARS.map((v) => v.name);

describe('every configuration variable, in process (table-driven over src/env.ts VARS)', () => {
  it('covers a real table', () => {
    expect(NAMES.length).toBeGreaterThan(40);
    for (const n of [...Object.keys(FREE_FORM), ...TOKEN_LISTS, ...PACKAGE_LISTS, ...Object.keys(STARTUP_VALIDATED)])
      expect(NAMES, `${n} is no longer a variable`).toContain(n);
  });

  it.each(NAMES)('%s: an empty or blank value is the same as unset, silently', (name) => {
    for (const v of ['', '   ']) {
      const c = loadConfig({ [name]: v });
      expect(c.warnings).toEqual([]);
      expect(effective(c)).toEqual(DEFAULTS);
    }
  });

  it.each(NAMES.filter((n) => !FREE_FORM[n]))('%s: invalid and absurd values get one warning naming it, and the default', (name) => {
    for (const value of [INVALID, ...ABSURD]) {
      if ((TOKEN_LISTS.has(name) || PACKAGE_LISTS.has(name)) && value !== INVALID) continue;
      const c = loadConfig({ [name]: value });
      const startup = STARTUP_VALIDATED[name];
      if (startup) {
        // loadConfig passes the text on; the parser that owns the grammar refuses it, once, naming the variable.
        expect(c.warnings).toEqual([]);
        const errors = startup(value);
        expect(errors, `${name}=${value}`).toHaveLength(1);
        expect(errors[0]).toContain(name);
        continue;
      }
      expect(c.warnings, `${name}=${JSON.stringify(value)}`).toHaveLength(1);
      expect(c.warnings[0]!.startsWith(`${name}=`), c.warnings[0]).toBe(true);
      expect(c.warnings[0]).toMatch(/; using /);
      expect(effective(c), `${name}=${JSON.stringify(value)} must leave the defaults in place`).toEqual(DEFAULTS);
    }
  });

  it('a warning shows at most 200 characters of a huge value, and never the value of a secret variable', () => {
    const c = loadConfig({ OTEL_TRACES_SAMPLER: 'x'.repeat(100_000), OTEL_EXPORTER_OTLP_HEADERS: 'no-equals-sign-secret-123' });
    expect(c.warnings).toHaveLength(2);
    for (const w of c.warnings) expect(w.length).toBeLessThan(400);
    expect(c.warnings.join('\n')).not.toContain('secret-123');
  });

  it('absurd values of the queue (negative, huge, zero, fractional, hex) keep the default queue and batch sizes', () => {
    for (const v of ['-1', '1e12', '0', '1.5', '0x10']) {
      const c = loadConfig({ OTEL_BSP_MAX_QUEUE_SIZE: v });
      expect(c.bsp.maxQueueSize, v).toBe(8192);
      expect(c.bsp.maxExportBatchSize, v).toBe(512);
      expect(c.warnings, v).toHaveLength(1);
    }
    // A small queue the user chose is not a mistake: the default batch follows it without a warning.
    const small = loadConfig({ OTEL_BSP_MAX_QUEUE_SIZE: '100' });
    expect(small.bsp).toMatchObject({ maxQueueSize: 100, maxExportBatchSize: 100 });
    expect(small.warnings).toEqual([]);
  });
});

describe.each(VARIANTS)('bad configuration in a real run (%s): the app runs and still exports', (ext) => {
  let rx: OtlpReceiver;
  beforeAll(async () => {
    rx = await startOtlpReceiver();
  });
  afterAll(async () => {
    await rx.close();
  });

  async function run(service: string, env: Record<string, string | undefined>): Promise<{ stderr: string; exported: number }> {
    const f = startTracked({
      fixture: `reliability/server.${ext}`,
      env: { OTEL_SERVICE_NAME: service, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${rx.url}/v1/traces`, ...env },
    });
    const port = Number((await f.ready).split(' ')[1]);
    const answers = await drive(
      port,
      Array.from({ length: 50 }, (_, i) => `/work/${i}?hop=1`),
      8,
    );
    expect(wrongWorkAnswers(answers)).toEqual([]);
    await request(port, '/shutdown?code=42', { method: 'POST' });
    const r = await f.result;
    expect(r.code, r.stderr).toBe(42);
    const spans = rx
      .spans()
      .filter((s) => s.resource['service.name'] === service && s.kind === 'SERVER' && String(s.attributes['url.path']).startsWith('/work/'));
    return { stderr: r.stderr, exported: spans.length };
  }

  it('every variable invalid at once: one warning per variable, each naming it', async () => {
    const env: Record<string, string | undefined> = {};
    // The OTLP traces endpoint must stay valid for the spans to reach this test; the doctor report is free-form.
    for (const n of NAMES) if (!FREE_FORM[n] && n !== 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') env[n] = INVALID;
    const { stderr, exported } = await run(`bad-all-${ext}`, env);
    expect(exported).toBe(50);
    const warnings = stderr.split('\n').filter((l) => l.startsWith('[otel-agent] warning: '));
    for (const n of Object.keys(env)) {
      const mine = warnings.filter((l) => l.startsWith(`[otel-agent] warning: ${n}=`) || l.startsWith(`[otel-agent] warning: ${n}: `));
      expect(mine, `${n}:\n${stderr}`).toHaveLength(1);
    }
    expect(warnings.length, stderr).toBe(Object.keys(env).length);
  });

  it('absurd numbers (-1, 1e12) for the queue, timeouts, delays and limits: defaults used, spans exported', async () => {
    const env = {
      OTEL_BSP_MAX_QUEUE_SIZE: '-1',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '1e12',
      OTEL_BSP_SCHEDULE_DELAY: '-1',
      OTEL_BSP_EXPORT_TIMEOUT: '1e12',
      OTEL_EXPORTER_OTLP_TIMEOUT: '-1',
      OTEL_AGENT_FLUSH_TIMEOUT: '1e12',
      OTEL_TRACES_SAMPLER_ARG: '1e12',
      OTEL_ATTRIBUTE_COUNT_LIMIT: '-1',
      OTEL_SPAN_EVENT_COUNT_LIMIT: '1e12',
    };
    const { stderr, exported } = await run(`bad-absurd-${ext}`, env);
    expect(exported).toBe(50);
    const warnings = stderr.split('\n').filter((l) => l.startsWith('[otel-agent] warning: '));
    expect(warnings.length, stderr).toBe(Object.keys(env).length);
    for (const n of Object.keys(env))
      expect(
        warnings.filter((l) => l.includes(` ${n}=`)),
        n,
      ).toHaveLength(1);
  });

  it('every variable empty: no warning at all, defaults, spans exported', async () => {
    const env: Record<string, string> = {};
    for (const n of NAMES) if (n !== 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' && n !== 'OTEL_SERVICE_NAME') env[n] = '';
    const { stderr, exported } = await run(`bad-empty-${ext}`, env);
    expect(stderr).toBe('');
    expect(exported).toBe(50);
  });
});
