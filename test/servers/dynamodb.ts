/**
 * A real DynamoDB implementation for tests: `dynalite` (from node_modules, in memory), run in the
 * test process on 127.0.0.1:0 with table creation and deletion instant. The AWS SDK v3 talks to
 * it over HTTP (AWS JSON 1.0, SigV4-signed; dynalite does not check signatures).
 */
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';

const require = createRequire(import.meta.url);

export interface DynamoServer {
  endpoint: string;
  /** Env a fixture reads: AWS_ENDPOINT, AWS_REGION and static credentials. */
  env(): Record<string, string>;
  /** The SDK client settings for the (untraced) test process. */
  clientConfig: { endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } };
  close(): Promise<void>;
}

export async function startDynamo(): Promise<DynamoServer> {
  const dynalite = require('dynalite') as (o: Record<string, number>) => Server;
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const credentials = { accessKeyId: 'DYNALITE', secretAccessKey: 'DYNALITE' };
  return {
    endpoint,
    env: () => ({
      AWS_ENDPOINT: endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    }),
    clientConfig: { endpoint, region: 'us-east-1', credentials },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
