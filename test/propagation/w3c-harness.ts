/**
 * A small harness of our own in the manner of the W3C Trace Context test
 * suite (github.com/w3c/trace-context test/, which cannot be committed here;
 * docs/guarantees.md says how it was run): the test POSTs to the traced
 * fixture service (test/fixtures/propagation/w3c-service.*) with exactly the
 * header lines a case needs and a list of callback URLs; the service POSTs
 * each callback with fetch() or http.request(); what the callbacks received
 * is what the agent propagated. Written from the spec text, not from the
 * suite's code.
 */
import http from 'node:http';
import { startFixture, type RunningFixture } from '../harness/fixture';
import { startRecorder, type Recorder, type Seen } from './wire';

export interface W3CService {
  /** POSTs with `headers` (raw lines, in order), asks for `count` callbacks; what each callback received. */
  call(headers: [string, string][], count?: number): Promise<Seen[]>;
  stop(): Promise<{ code: number | null; stderr: string }>;
}

let seq = 0;

export async function startW3CService(
  ext: string,
  client: 'fetch' | 'http',
  endpoint: string,
  env: Record<string, string> = {},
): Promise<W3CService & { recorder: Recorder; fixture: RunningFixture }> {
  const recorder = await startRecorder();
  const fixture = startFixture({
    fixture: `propagation/w3c-service.${ext}`,
    mode: ext === 'cjs' ? 'require' : 'import',
    endpoint,
    env: { W3C_CLIENT: client, ...env },
  });
  const port = Number((await fixture.ready).split(' ')[1]);
  const post = (path: string, headers: [string, string][], body: string) =>
    new Promise<number>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          path,
          method: 'POST',
          agent: false,
          headers: ['host', `127.0.0.1:${port}`, 'content-type', 'application/json', 'content-length', String(Buffer.byteLength(body)), ...headers.flat()],
          timeout: 15_000,
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('timeout', () => req.destroy(new Error('no answer within 15 s')));
      req.on('error', reject);
      req.end(body);
    });
  return {
    recorder,
    fixture,
    async call(headers, count = 1) {
      const id = `case${++seq}`;
      const urls = Array.from({ length: count }, (_, i) => `${recorder.url}/cb/${id}/${i}`);
      const status = await post('/test', headers, JSON.stringify(urls.map((url) => ({ url, arguments: [] }))));
      if (status !== 200) throw new Error(`the service answered ${status}`);
      return urls.map((_, i) => {
        const got = recorder.to(`/cb/${id}/${i}`);
        if (got.length !== 1) throw new Error(`callback ${i} of ${id} received ${got.length} times`);
        return got[0]!;
      });
    },
    async stop() {
      await post('/quit', [], '').catch(() => 0);
      const r = await fixture.result;
      await recorder.close();
      return { code: r.code, stderr: r.stderr };
    },
  };
}

/** The one traceparent line a callback received, parsed (throws when there are zero or several). */
export function traceparentOf(s: Seen): { version: string; traceId: string; parentId: string; flags: number } {
  const lines = s.raw.filter(([k]) => k.toLowerCase() === 'traceparent');
  if (lines.length !== 1) throw new Error(`${lines.length} traceparent lines`);
  const m = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(lines[0]![1]);
  if (!m) throw new Error(`malformed traceparent ${JSON.stringify(lines[0]![1])}`);
  return { version: m[1]!, traceId: m[2]!, parentId: m[3]!, flags: parseInt(m[4]!, 16) };
}

/** The tracestate lines a callback received (raw values, in order). */
export const tracestateLines = (s: Seen): string[] => s.raw.filter(([k]) => k.toLowerCase() === 'tracestate').map(([, v]) => v);

/** The list members of the tracestate a callback received, left to right, as [key, value]. */
export function tracestateOf(s: Seen): [string, string][] {
  const out: [string, string][] = [];
  for (const line of tracestateLines(s)) {
    for (const m of line.split(',')) {
      const t = m.trim();
      if (t === '') continue;
      const eq = t.indexOf('=');
      out.push([t.slice(0, eq), t.slice(eq + 1)]);
    }
  }
  return out;
}
