/**
 * The span rule for errors, applied to log records: an error contributes its type, message
 * and stack (exception.*, the stack's file paths shortened as on spans: stack-paths.ts), never the credentials its own properties may carry. Loggers that
 * spread an Error into the record (winston's `logger.error(err)`) export its own enumerable
 * properties too, e.g. an HTTP client error's `config.headers.authorization`. For a record
 * that carries an exception, values under credential-like names (the query-redaction list
 * of redact.ts, at any depth) become REDACTED. Runs before the batch processors, in the
 * app's thread, and only for records with an exception: the others are not touched.
 */
import type { Context } from '@opentelemetry/api';
import type { LogRecordProcessor, ReadWriteLogRecord } from '@opentelemetry/sdk-logs';
import { isSensitiveQueryName } from './redact';
import { exportedStack } from './stack-paths';

const REDACTED = 'REDACTED';
/** Too deep to be data a backend shows; also bounds the walk on cyclic-looking input. */
const MAX_DEPTH = 8;

// `code` is in the one-time-code list for URLs; on an error it is the error code (ECONNREFUSED), worth keeping.
const sensitive = (key: string): boolean => key !== 'code' && isSensitiveQueryName(key);

export function scrub(v: unknown, depth: number): unknown {
  if (v === null || typeof v !== 'object' || depth > MAX_DEPTH) return v;
  if (Array.isArray(v)) return v.map((x) => scrub(x, depth + 1));
  if (v instanceof Uint8Array) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = sensitive(k) ? REDACTED : scrub(x, depth + 1);
  return out;
}

export class LogRedactingProcessor implements LogRecordProcessor {
  onEmit(record: ReadWriteLogRecord, _context?: Context): void {
    try {
      const attrs = record.attributes;
      if (attrs['exception.type'] === undefined && attrs['exception.message'] === undefined && attrs['exception.stacktrace'] === undefined) return;
      const stack = attrs['exception.stacktrace'];
      if (typeof stack === 'string') record.setAttribute('exception.stacktrace', exportedStack(stack));
      for (const [k, v] of Object.entries(attrs)) {
        if (k.startsWith('exception.')) continue;
        if (sensitive(k)) record.setAttribute(k, REDACTED);
        else if (v !== null && typeof v === 'object') record.setAttribute(k, scrub(v, 1) as Parameters<ReadWriteLogRecord['setAttribute']>[1]);
      }
    } catch {
      // Redaction must never break the app's logging; the record goes on as it is.
    }
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
