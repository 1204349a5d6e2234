/**
 * A real S3-compatible HTTP server for tests: `s3rver` (from node_modules), run in the test
 * process on 127.0.0.1 with a throwaway data directory. The AWS SDK v3 talks to it over HTTP
 * with real SigV4 signatures, so requests go through the whole SDK stack (middleware, signing,
 * node-http-handler) exactly as against AWS.
 *
 * Clients must use the settings in `clientConfig` (or the env in `env()` for fixtures):
 * path-style addressing (s3rver has no wildcard DNS), the fixed S3RVER credentials, and
 * checksums only WHEN_REQUIRED, because with the SDK's default (always) streamed bodies are
 * sent aws-chunked, and s3rver stores the chunk framing as part of the object.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const S3_ACCESS_KEY = 'S3RVER';
export const S3_SECRET_KEY = 'S3RVER';
export const S3_REGION = 'us-east-1';

export interface S3ClientSettings {
  endpoint: string;
  region: string;
  forcePathStyle: true;
  credentials: { accessKeyId: string; secretAccessKey: string };
  requestChecksumCalculation: 'WHEN_REQUIRED';
  responseChecksumValidation: 'WHEN_REQUIRED';
}

export interface S3Server {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  host: string;
  port: number;
  /** A bucket created at start (`startS3({ bucket })`, default `test-bucket`). */
  bucket: string;
  /** Everything `new S3Client(...)` needs to talk to this server. */
  clientConfig: S3ClientSettings;
  /** Env vars a fixture reads to build its client: S3_ENDPOINT, S3_BUCKET, S3_REGION, S3_ACCESS_KEY, S3_SECRET_KEY. */
  env(bucket?: string): Record<string, string>;
  /** Creates a bucket directly in the store (no HTTP request, so no span anywhere). */
  createBucket(name: string): Promise<void>;
  /** The stored bytes of an object, or null when it does not exist (read from the store, not over HTTP). */
  objectBody(bucket: string, key: string): Promise<Buffer | null>;
  /** Keys currently stored in a bucket. */
  keys(bucket: string): Promise<string[]>;
  /** Every HTTP request the server received, in order (method, path with query, headers). */
  requests: S3Request[];
  close(): Promise<void>;
}

export interface S3Request {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
}

interface S3rverStore {
  putBucket(name: string): Promise<unknown>;
  getObject(bucket: string, key: string): Promise<{ content: Readable | null } | null>;
  listObjects(bucket: string, o: { maxKeys: number }): Promise<{ objects: { key: string }[] }>;
}
interface S3rverInstance {
  store: S3rverStore;
  httpServer?: { closeAllConnections?(): void; on(ev: 'request', fn: (req: { method?: string; url?: string; headers: S3Request['headers'] }) => void): void };
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
}
type S3rverCtor = new (o: Record<string, unknown>) => S3rverInstance;

export async function startS3(o: { bucket?: string; buckets?: string[] } = {}): Promise<S3Server> {
  const S3rver = require('s3rver') as S3rverCtor;
  const directory = mkdtempSync(join(tmpdir(), 's3rver-'));
  const bucket = o.bucket ?? 'test-bucket';
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    // Path-style only: bucket names are never taken from the Host header.
    vhostBuckets: false,
    configureBuckets: [bucket, ...(o.buckets ?? [])].map((name) => ({ name })),
  });
  let addr: { address: string; port: number };
  try {
    addr = await server.run();
  } catch (e) {
    rmSync(directory, { recursive: true, force: true });
    throw e;
  }
  const requests: S3Request[] = [];
  server.httpServer?.on('request', (req) => requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers }));
  const host = addr.address;
  const port = addr.port;
  const endpoint = `http://${host}:${port}`;
  const clientConfig: S3ClientSettings = {
    endpoint,
    region: S3_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  };
  let closed = false;
  return {
    endpoint,
    host,
    port,
    bucket,
    clientConfig,
    requests,
    env: (b = bucket) => ({
      S3_ENDPOINT: endpoint,
      S3_BUCKET: b,
      S3_REGION,
      S3_ACCESS_KEY,
      S3_SECRET_KEY,
    }),
    async createBucket(name) {
      await server.store.putBucket(name);
    },
    async objectBody(b, key) {
      const obj = await server.store.getObject(b, key);
      if (!obj || !obj.content) return null;
      const chunks: Buffer[] = [];
      for await (const c of obj.content) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    },
    async keys(b) {
      const r = await server.store.listObjects(b, { maxKeys: 10_000 });
      return r.objects.map((x) => x.key);
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        // Keep-alive sockets from SDK clients would otherwise hold close() open.
        server.httpServer?.closeAllConnections?.();
        await server.close();
      } finally {
        rmSync(directory, { recursive: true, force: true });
      }
    },
  };
}
