/**
 * Log correlation for plain console output (OTEL_AGENT_LOG_CORRELATION
 * includes `console`; off by default because it changes what the app prints).
 *
 * While a recording span is active, console.log/info/debug/warn/error output
 * gets the span's ids:
 *
 *   order 42 loaded trace_id=<32 hex> span_id=<16 hex> trace_flags=01
 *   {"msg":"order loaded","trace_id":"<32 hex>","span_id":"<16 hex>","trace_flags":"01"}
 *
 * A line that is one JSON object gets the ids as fields, so JSON log shippers
 * still parse it; anything else gets them appended as key=value pairs at the
 * end of the output. Outside a span, or when the span is not recorded
 * (sampled out), the output is left exactly as the app wrote it.
 *
 * console semantics are kept: when the first argument is not a format string,
 * the ids are passed as one more argument, so the console formats and colours
 * everything else itself. Format strings (`%s`, `%d`, `%o`, `%%`, ...) are
 * formatted here first, because an extra argument could be consumed by a
 * placeholder the app left unfilled.
 */
import { context, isSpanContextValid, trace, type SpanContext } from '@opentelemetry/api';
import { formatWithOptions, type InspectOptions } from 'node:util';

const PATCHED = Symbol.for('@x/otel-agent/console-correlation');
const METHODS = ['log', 'info', 'debug', 'warn', 'error'] as const;
type Method = (typeof METHODS)[number];
type ConsoleFn = (this: unknown, ...args: unknown[]) => void;

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** The active span's context, only when that span is being recorded. */
function activeIds(): SpanContext | undefined {
  const span = trace.getSpan(context.active());
  if (!span || !span.isRecording()) return undefined;
  const sc = span.spanContext();
  return isSpanContextValid(sc) ? sc : undefined;
}

export function pairs(sc: SpanContext): string {
  return `trace_id=${sc.traceId} span_id=${sc.spanId} trace_flags=${hex2(sc.traceFlags)}`;
}

/**
 * Adds the ids to an already formatted line: as fields when the line is a single
 * JSON object, else as key=value pairs before any trailing newlines. Returns
 * undefined when the line should be left alone (empty, or already correlated).
 */
export function correlateLine(line: string, sc: SpanContext): string | undefined {
  if (line.trim() === '' || line.includes('trace_id')) return undefined;
  const body = line.trimEnd();
  const trailing = line.slice(body.length);
  if (body.startsWith('{') && body.endsWith('}') && !body.includes('\n')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = undefined;
    }
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
      const fields = `"trace_id":"${sc.traceId}","span_id":"${sc.spanId}","trace_flags":"${hex2(sc.traceFlags)}"`;
      const sep = Object.keys(parsed).length === 0 ? '' : ',';
      return `${body.slice(0, -1)}${sep}${fields}}${trailing}`;
    }
  }
  return `${body} ${pairs(sc)}${trailing}`;
}

/** The inspect options the global console would use for this stream. */
function inspectOptions(stream: NodeJS.WriteStream | undefined): InspectOptions {
  const colors = stream?.isTTY === true && (typeof stream.getColorDepth === 'function' ? stream.getColorDepth() > 2 : true);
  return colors ? { colors: true } : {};
}

function wrap(original: ConsoleFn, method: Method): ConsoleFn {
  const toStderr = method === 'warn' || method === 'error';
  const correlated = function (this: unknown, ...args: unknown[]): void {
    let replacement: unknown[] | undefined;
    try {
      const sc = args.length > 0 ? activeIds() : undefined;
      if (sc) {
        const first = args[0];
        if (typeof first === 'string' && args.length === 1) {
          const line = correlateLine(first, sc);
          if (line !== undefined) replacement = [line];
        } else if (typeof first === 'string' && first.includes('%')) {
          const formatted = formatWithOptions(inspectOptions(toStderr ? process.stderr : process.stdout), ...args);
          const line = correlateLine(formatted, sc);
          if (line !== undefined) replacement = ['%s', line];
        } else {
          replacement = [...args, pairs(sc)];
        }
      }
    } catch {
      replacement = undefined;
    }
    return original.apply(this, replacement ?? args);
  };
  Object.defineProperty(correlated, 'name', { value: original.name || method });
  return correlated;
}

/** Patches the given console (the global one by default) once; later calls are no-ops. */
export function installConsoleCorrelation(target: Console = console): boolean {
  const t = target as unknown as Record<string | symbol, unknown>;
  if (t[PATCHED]) return false;
  for (const m of METHODS) {
    const original = t[m];
    if (typeof original === 'function') t[m] = wrap(original as ConsoleFn, m);
  }
  Object.defineProperty(t, PATCHED, { value: true, enumerable: false });
  return true;
}
