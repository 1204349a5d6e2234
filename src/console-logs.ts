/**
 * OTEL_AGENT_CONSOLE_LOGS=true (with OTEL_LOGS_EXPORTER): console.log/info/debug/warn/error
 * calls become OpenTelemetry log records as well, in the context they were made in (so they
 * carry the active span's trace and span id), printed exactly as before.
 *
 * - body: the line as console formats it (util.format, no colours), without the ids console
 *   correlation may append (those are the record's own fields);
 * - severity: debug DEBUG (5), log and info INFO (9), warn WARN (13), error ERROR (17), with the
 *   method's name as severityText; attribute `log.iostream` says stdout or stderr;
 * - an Error argument: exception.type/message/stacktrace, as spans record it, and in the body
 *   its stack only, never its own properties; in such a record, values under credential-like
 *   names of the other arguments become REDACTED (the rule of logs-redact.ts for pino/winston).
 *
 * Off by default: console output is often a program's user interface, not its log. The agent's
 * own output goes to process.stderr directly and the console exporters print with console.dir,
 * which is not wrapped; a reentrancy flag covers the rest.
 */
import { context, type Logger } from '@opentelemetry/api';
import { format } from 'node:util';
import { scrub } from './logs-redact';

const PATCHED = Symbol.for('@x/otel-agent/console-logs');
const SEVERITY = { debug: [5, 'debug'], log: [9, 'log'], info: [9, 'info'], warn: [13, 'warn'], error: [17, 'error'] } as const;
type Method = keyof typeof SEVERITY;

type Emitter = { emit(r: Record<string, unknown>): void };

export function installConsoleLogs(logger: Logger | Emitter, target: Console = console): boolean {
  const t = target as unknown as Record<string | symbol, unknown>;
  if (t[PATCHED]) return false;
  let inside = false;
  for (const m of Object.keys(SEVERITY) as Method[]) {
    const original = t[m];
    if (typeof original !== 'function') continue;
    const [severityNumber, severityText] = SEVERITY[m];
    const iostream = m === 'warn' || m === 'error' ? 'stderr' : 'stdout';
    const wrapped = function (this: unknown, ...args: unknown[]): void {
      if (!inside && args.length > 0) {
        inside = true;
        try {
          const err = args.find((a): a is Error => a instanceof Error);
          const attributes: Record<string, unknown> = { 'log.iostream': iostream };
          let shown = args;
          if (err) {
            attributes['exception.type'] = err.name;
            attributes['exception.message'] = err.message;
            if (typeof err.stack === 'string') attributes['exception.stacktrace'] = err.stack;
            shown = args.map((a) => (a instanceof Error ? (a.stack ?? `${a.name}: ${a.message}`) : scrub(a, 1)));
          }
          (logger as Emitter).emit({ body: format(...shown), severityNumber, severityText, attributes, context: context.active() });
        } catch {
          // A record that cannot be made costs that record only; the app's output goes on.
        } finally {
          inside = false;
        }
      }
      return (original as (...a: unknown[]) => void).apply(this, args);
    };
    Object.defineProperty(wrapped, 'name', { value: (original as { name?: string }).name || m });
    t[m] = wrapped;
  }
  Object.defineProperty(t, PATCHED, { value: true, enumerable: false });
  return true;
}
