/**
 * Sending export bodies over HTTP(S), with the agent's own rules:
 * - tracing is suppressed for our own requests (no spans about exporting spans);
 * - builtins come from process.getBuiltinModule, so exporting never goes through
 *   the app's require hooks and never triggers an instrumentation to load;
 * - at most 5 attempts, all inside the export timeout, only for answers a
 *   retry can help (429/502/503/504, no answer, network errors; not TLS or
 *   certificate errors, not other statuses); the wait doubles from 200 ms
 *   with jitter, or is the collector's Retry-After, and is never over 5 s;
 * - gzip when OTEL_EXPORTER_OTLP_COMPRESSION asks; keep-alive, two sockets;
 * - every timer is unref'd, and a socket stops holding the process after
 *   `holdMs` (OTEL_AGENT_FLUSH_TIMEOUT), when the exit flush takes over;
 * - a 2xx status line is a delivery, whatever then happens to the body (cut
 *   off, too big, too slow): such a batch is never sent again.
 */
import { context } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import type * as httpT from 'node:http';
import type * as httpsT from 'node:https';
import type * as zlibT from 'node:zlib';
import { readFileSync } from 'node:fs';
import { MAX_ACTIVE_EXPORTS, type ExportOutcome } from '../processor';

export interface TlsFiles {
  certificate?: string;
  clientKey?: string;
  clientCertificate?: string;
}

export interface HttpTarget {
  url: string;
  headers: Readonly<Record<string, string>>;
  contentType: string;
  compression: 'gzip' | 'none';
  timeoutMs: number;
  tls: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  /**
   * How long an export in flight may keep a process that has nothing else to
   * do alive (OTEL_AGENT_FLUSH_TIMEOUT). Usually the answer comes in
   * milliseconds and the batch is delivered once; if the collector hangs, the
   * socket stops holding the process and the exit flush takes over.
   */
  holdMs?: number;
}

const http = process.getBuiltinModule('node:http') as typeof httpT;
const https = process.getBuiltinModule('node:https') as typeof httpsT;
const zlib = process.getBuiltinModule('node:zlib') as typeof zlibT;

/** Reads the TLS files named by the OTEL_EXPORTER_OTLP_*CERTIFICATE/KEY variables; a missing file is a startup error the caller reports. */
export function readTls(files: TlsFiles): HttpTarget['tls'] {
  const read = (p: string | undefined, what: string): Buffer | undefined => {
    if (!p) return undefined;
    try {
      return readFileSync(p);
    } catch (e) {
      throw new Error(`cannot read ${what} file ${p}: ${(e as Error).message}`, { cause: e });
    }
  };
  return {
    ca: read(files.certificate, 'OTEL_EXPORTER_OTLP_CERTIFICATE'),
    cert: read(files.clientCertificate, 'OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE'),
    key: read(files.clientKey, 'OTEL_EXPORTER_OTLP_CLIENT_KEY'),
  };
}

/** Shows where we send without credentials or query values. */
export function describeUrl(u: string): string {
  try {
    const url = new URL(u);
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return '<invalid url>';
  }
}

interface Attempt {
  ok: boolean;
  retryable: boolean;
  error?: string;
  retryAfterMs?: number;
  /** The collector answered with a status line (the error is that answer). */
  answered?: boolean;
  /** A 2xx answer's body (at most RESPONSE_LIMIT bytes), for OTLP partial success. */
  body?: Buffer;
}

/**
 * A collector's answer is a few bytes (an empty message, or a partial success
 * with a short text). Past this, the body is garbage we need not read: the
 * export is decided by the status code alone and the connection is dropped.
 */
export const RESPONSE_LIMIT = 1 << 20;

export class HttpSender {
  private readonly agent: httpT.Agent;
  private readonly isHttps: boolean;

  constructor(readonly target: HttpTarget) {
    this.isHttps = target.url.startsWith('https:');
    const mod = this.isHttps ? https : http;
    this.agent = new mod.Agent({ keepAlive: true, maxSockets: MAX_ACTIVE_EXPORTS, ...(this.isHttps ? target.tls : {}) });
  }

  prepare(body: Uint8Array): Buffer {
    const b = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    return this.target.compression === 'gzip' ? zlib.gzipSync(b) : b;
  }

  /**
   * `onAccepted` is called as soon as the collector answered 2xx (before its
   * body is read): from then on the spans are the collector's, and the batch
   * must never be sent again, neither by a retry nor by the exit flush.
   */
  async send(body: Uint8Array, onAccepted?: () => void): Promise<ExportOutcome & { body?: Buffer }> {
    const payload = this.prepare(body);
    const deadline = Date.now() + this.target.timeoutMs;
    let delay = 200;
    // What the collector last said: a retry that then runs out of time must not hide it (e.g. a 503).
    let refused: string | undefined;
    for (let attempt = 1; ; attempt++) {
      const left = deadline - Date.now();
      const r = await this.once(payload, Math.max(1, left), onAccepted);
      if (r.ok) return { ok: true, body: r.body };
      if (r.answered) refused = r.error;
      const wait = Math.min(r.retryAfterMs ?? delay * (0.5 + Math.random()), 5000);
      if (!r.retryable || attempt >= 5 || Date.now() + wait >= deadline) {
        return { ok: false, error: refused && !r.answered ? `${refused}, then ${r.error}` : r.error };
      }
      await sleep(wait);
      delay *= 2;
    }
  }

  /**
   * One request. Every way it can end resolves it exactly once: the answer's
   * end, an error on the request or the response, the response closing or
   * being aborted mid-body, the deadline, an oversized body. Once the status
   * line said 2xx, every one of those is a delivery (the collector has the
   * data; sending it again would duplicate it); before that, a failure.
   */
  private once(payload: Buffer, timeoutMs: number, onAccepted?: () => void): Promise<Attempt> {
    return new Promise<Attempt>((resolve) => {
      let settled = false;
      let accepted = false;
      const chunks: Buffer[] = [];
      let size = 0;
      const finish = (a: Attempt): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(a);
      };
      const delivered = (): void => finish({ ok: true, retryable: false, body: size <= RESPONSE_LIMIT ? Buffer.concat(chunks) : undefined });
      const failed = (retryable: boolean, error: string): void => (accepted ? delivered() : finish({ ok: false, retryable, error }));
      const timer = setTimeout(() => {
        failed(true, `no answer within ${timeoutMs} ms`);
        req.destroy();
      }, timeoutMs);
      timer.unref();
      const headers: Record<string, string | number> = {
        ...this.target.headers,
        'content-type': this.target.contentType,
        'content-length': payload.length,
        'user-agent': 'x-otel-agent',
      };
      if (this.target.compression === 'gzip') headers['content-encoding'] = 'gzip';
      const mod = this.isHttps ? https : http;
      const req = context.with(suppressTracing(context.active()), () =>
        mod.request(this.target.url, { method: 'POST', headers, agent: this.agent }, (res) => {
          const code = res.statusCode ?? 0;
          if (code >= 200 && code < 300) {
            accepted = true;
            try {
              onAccepted?.();
            } catch {
              /* bookkeeping only */
            }
          }
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size <= RESPONSE_LIMIT) return void chunks.push(c);
            // Decided by the status code; the rest of the body is not worth a socket.
            chunks.length = 0;
            if (accepted) delivered();
            else finish(refusal(res, code));
            res.destroy();
          });
          // Cut off mid-body: the status line already said what the collector did with the data.
          const cut = (): void => (accepted ? delivered() : finish(refusal(res, code)));
          res.on('error', cut);
          res.on('aborted', cut);
          res.on('close', cut);
          res.on('end', () => (accepted ? delivered() : finish(refusal(res, code))));
        }),
      );
      req.on('socket', (sock) => {
        const hold = this.target.holdMs ?? 0;
        if (hold <= 0) return void sock.unref();
        const t = setTimeout(() => sock.unref(), hold);
        t.unref();
        req.once('close', () => clearTimeout(t));
      });
      req.on('error', (e: NodeJS.ErrnoException) =>
        failed(!/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/i.test(e.code ?? e.message), e.code ? `${e.code} ${e.message}` : e.message),
      );
      // No answer at all (e.g. the socket closed before a status line): not a delivery.
      req.on('close', () => failed(true, 'connection closed before an answer'));
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** A non-2xx answer: retried only when a retry can help (the collector is throttling or briefly down). */
function refusal(res: httpT.IncomingMessage, code: number): Attempt {
  const ra = Number(res.headers['retry-after']);
  return {
    ok: false,
    answered: true,
    retryable: code === 429 || code === 502 || code === 503 || code === 504,
    error: `HTTP ${code}${res.statusMessage ? ' ' + res.statusMessage : ''}`,
    retryAfterMs: Number.isFinite(ra) && ra >= 0 ? ra * 1000 : undefined,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
