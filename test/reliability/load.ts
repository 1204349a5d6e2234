/**
 * Load for the fixture apps: many concurrent requests over keep-alive
 * connections, each answer checked. Used by the reliability tests to show the
 * app keeps answering correctly whatever happens on the agent's side.
 */
import http from 'node:http';
import type { ChildProcess } from 'node:child_process';
import { startFixture, type FixtureOptions, type RunningFixture } from '../harness/fixture';

export interface Answer {
  path: string;
  status: number;
  body: string;
  error?: string;
}

export function request(
  port: number,
  path: string,
  opts: { method?: string; headers?: http.OutgoingHttpHeaders; agent?: http.Agent; timeoutMs?: number } = {},
): Promise<Answer> {
  return new Promise((resolve) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: opts.agent ?? false, timeout: opts.timeoutMs ?? 15_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ path, status: res.statusCode ?? 0, body }));
        res.on('error', (e) => resolve({ path, status: 0, body, error: e.message }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within the client timeout')));
    req.on('error', (e) => resolve({ path, status: 0, body: '', error: e.message }));
    req.end();
  });
}

export async function getJson<T = Record<string, unknown>>(port: number, path: string): Promise<T> {
  const a = await request(port, path);
  if (a.status !== 200) throw new Error(`GET ${path}: ${a.status} ${a.error ?? a.body}`);
  return JSON.parse(a.body) as T;
}

/** Sends every path with at most `concurrency` in flight; answers come back in path order. */
export async function drive(port: number, paths: string[], concurrency: number): Promise<Answer[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const out: Answer[] = new Array(paths.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < paths.length) {
      const i = next++;
      out[i] = await request(port, paths[i]!, { agent });
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    agent.destroy();
  }
  return out;
}

/** The fixture's /work/<id> answer, computed independently of the app. */
export function expectedWork(id: number): string {
  return JSON.stringify({ id, square: id * id });
}

/** Answers that are not exactly what the app should have said (empty when all are right). */
export function wrongWorkAnswers(answers: Answer[]): string[] {
  const bad: string[] = [];
  for (const a of answers) {
    const id = Number(a.path.split('/')[2]?.split('?')[0]);
    if (a.status !== 200 || a.body !== expectedWork(id)) bad.push(`${a.path}: ${a.status} ${a.error ?? a.body.slice(0, 200)}`);
  }
  return bad;
}

/** Keeps `concurrency` requests in flight until stop() is called; for tests that end the app mid-load. */
export function continuous(port: number, concurrency: number, path: (n: number) => string): { stop(): Promise<Answer[]>; sent(): number; answered(): number } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const answers: Answer[] = [];
  let stopped = false;
  let n = 0;
  const worker = async (): Promise<void> => {
    while (!stopped) {
      const a = await request(port, path(n++), { agent, timeoutMs: 10_000 });
      answers.push(a);
      if (a.status === 0) break; // the app is gone
    }
  };
  const all = Promise.all(Array.from({ length: concurrency }, worker));
  return {
    sent: () => n,
    answered: () => answers.filter((a) => a.status === 200).length,
    async stop() {
      stopped = true;
      await all;
      agent.destroy();
      return answers;
    },
  };
}

/** The fixture's stats, asked for with SIGUSR2 so that asking makes no span. */
export function statsBySignal<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer | string): void => {
      buf += String(d);
      const line = buf.split('\n').find((l) => l.startsWith('STATS ') && buf.includes(l + '\n'));
      if (line === undefined) return;
      child.stdout!.off('data', onData);
      resolve(JSON.parse(line.slice(6)) as T);
    };
    child.stdout!.on('data', onData);
    if (!child.kill('SIGUSR2')) reject(new Error('fixture is gone'));
  });
}

const running = new Set<ChildProcess>();

/**
 * Starts a fixture that is killed when the test file ends, even if the test
 * failed before it could shut the fixture down (the harness's own timeout
 * timer is unref'd and dies with the test worker).
 */
export function startTracked(o: FixtureOptions): RunningFixture {
  const f = startFixture(o);
  running.add(f.child);
  f.child.on('exit', () => running.delete(f.child));
  return f;
}

export function killLeftovers(): void {
  for (const c of running) c.kill('SIGKILL');
  running.clear();
}
