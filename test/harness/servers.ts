/**
 * Real servers the tests talk to. On a developer machine without one, the
 * tests that need it are skipped with a loud reason; in CI (CI=true) a missing
 * server is a failure, because a green run that tested nothing is worse than red.
 */
import { connect } from 'node:net';

export function reachable(host: string, port: number, timeoutMs = 1500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

export const SERVERS = {
  postgres: { name: 'PostgreSQL', host: '127.0.0.1', port: 5432 },
  mariadb: { name: 'MariaDB', host: '127.0.0.1', port: 3306 },
  redis: { name: 'Redis', host: '127.0.0.1', port: 6379 },
  rabbitmq: { name: 'RabbitMQ', host: '127.0.0.1', port: 5672 },
  nats: { name: 'NATS', host: '127.0.0.1', port: 4222 },
  mosquitto: { name: 'Mosquitto (MQTT)', host: '127.0.0.1', port: 1883 },
} as const;

/** True when the server answers; false (with a loud warning) when it does not and we are not in CI; throws in CI. */
export async function requireServer(which: keyof typeof SERVERS): Promise<boolean> {
  const s = SERVERS[which];
  if (await reachable(s.host, s.port)) return true;
  const msg = `${s.name} is not reachable at ${s.host}:${s.port}; the tests that need it are SKIPPED (start it: see docs/testing.md)`;
  if (process.env.CI === 'true') throw new Error(`CI=true and ${msg.replace('are SKIPPED', 'cannot run')}`);
  console.warn(`\n!!! ${msg}\n`);
  return false;
}
