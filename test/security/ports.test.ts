/**
 * The agent opens no listening port of its own (no metrics endpoint, no debug
 * server, nothing): the app's process listens on exactly the sockets it
 * listens on without the agent, whichever exporter protocol is used. Read
 * from the kernel (/proc/<pid>/fd and /proc/net/{tcp,tcp6,udp,udp6}), and
 * from Node's own view (process.getActiveResourcesInfo()).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { VARIANTS, type LoadMode } from '../harness/fixture';
import { drive, getJson, killLeftovers, request, startTracked } from '../reliability/load';

afterAll(killLeftovers);

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});

/** Sockets this process listens on (TCP LISTEN) or has bound (UDP), as the kernel reports them. */
function boundSockets(pid: number): { tcpListen: string[]; udp: string[] } {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      /* fd closed while reading */
    }
  }
  const rows = (file: string): string[][] =>
    existsSync(file)
      ? readFileSync(file, 'utf8')
          .split('\n')
          .slice(1)
          .filter(Boolean)
          .map((l) => l.trim().split(/\s+/))
      : [];
  // Columns: sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
  const mine = (file: string): string[][] => rows(`/proc/${pid}/net/${file}`).filter((r) => inodes.has(r[9]!));
  return {
    tcpListen: [...mine('tcp'), ...mine('tcp6')].filter((r) => r[3] === '0A').map((r) => r[1]!),
    udp: [...mine('udp'), ...mine('udp6')].map((r) => r[1]!),
  };
}

async function observe(
  ext: string,
  mode: LoadMode,
  env: Record<string, string>,
): Promise<{ kernel: ReturnType<typeof boundSockets>; servers: number; appPort: number }> {
  const f = startTracked({ fixture: `reliability/server.${ext}`, mode, env });
  const appPort = Number((await f.ready).split(' ')[1]);
  // Traffic first, so the exporter has connected (and would have opened anything it opens).
  await drive(
    appPort,
    Array.from({ length: 40 }, (_, i) => `/work/${i}?hop=1`),
    8,
  );
  await new Promise((r) => setTimeout(r, 300));
  const kernel = boundSockets(f.child.pid!);
  const stats = await getJson<{ resources: Record<string, number> }>(appPort, '/stats');
  await request(appPort, '/shutdown?code=0', { method: 'POST' });
  const r = await f.result;
  expect(r.code, r.stderr).toBe(0);
  return { kernel, servers: stats.resources['TCPServerWrap'] ?? 0, appPort };
}

describe.runIf(process.platform === 'linux').each(VARIANTS)('the agent opens no listening port (%s)', (ext) => {
  it.each(['http/protobuf', 'grpc'] as const)('with the %s exporter, at debug level: the same listening sockets as the app alone', async (protocol) => {
    const env = {
      OTEL_SERVICE_NAME: `ports-${protocol}-${ext}`,
      OTEL_LOG_LEVEL: 'debug',
      OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
      OTEL_EXPORTER_OTLP_ENDPOINT: protocol === 'grpc' ? rx.grpcUrl : rx.url,
    };
    const alone = await observe(ext, 'none', env);
    const traced = await observe(ext, 'import', env);
    const hex = (p: number): string => p.toString(16).toUpperCase().padStart(4, '0');
    // The app alone: its one server. With the agent: that one server, nothing else.
    expect(alone.kernel.tcpListen.map((a) => a.split(':')[1])).toEqual([hex(alone.appPort)]);
    expect(traced.kernel.tcpListen.map((a) => a.split(':')[1])).toEqual([hex(traced.appPort)]);
    expect(traced.kernel.udp).toEqual(alone.kernel.udp);
    expect(traced.servers).toBe(1);
    expect(alone.servers).toBe(1);
    // It really exported over that protocol while we looked.
    expect(rx.spans().some((s) => s.resource['service.name'] === env.OTEL_SERVICE_NAME)).toBe(true);
  });
});
