/**
 * The agent's own diagnostics. Everything goes to stderr with one prefix, is
 * filtered by OTEL_LOG_LEVEL, and warnings that could repeat (export failures,
 * dropped spans) go through `rateLimited` so a broken collector produces a
 * handful of lines, never one per batch or per span.
 */
import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import type { LogLevel } from './env';

const ORDER: Record<LogLevel, number> = { none: 0, error: 1, warn: 2, info: 3, debug: 4, verbose: 5, all: 6 };
const PREFIX = '[otel-agent]';

export interface AgentLog {
  level: LogLevel;
  error(msg: string): void;
  warn(msg: string): void;
  info(msg: string): void;
  debug(msg: string): void;
  enabled(level: LogLevel): boolean;
  /** Warn at most once for this key, for the life of the process. */
  warnOnce(key: string, msg: string): void;
  /** Warn at most once per `intervalMs` for this key; the next line says how many were suppressed. */
  rateLimited(key: string, msg: string, intervalMs?: number): void;
}

function write(line: string): void {
  try {
    process.stderr.write(`${PREFIX} ${line}\n`);
  } catch {
    // stderr closed: nowhere left to report, and the app must not notice.
  }
}

export function createLog(level: LogLevel): AgentLog {
  const n = ORDER[level];
  const once = new Set<string>();
  const limited = new Map<string, { last: number; suppressed: number }>();
  const log: AgentLog = {
    level,
    enabled: (l) => ORDER[l] <= n && ORDER[l] > 0,
    error: (m) => n >= 1 && write(`error: ${m}`),
    warn: (m) => n >= 2 && write(`warning: ${m}`),
    info: (m) => n >= 3 && write(m),
    debug: (m) => n >= 4 && write(`debug: ${m}`),
    warnOnce(key, msg) {
      if (once.has(key)) return;
      once.add(key);
      log.warn(msg);
    },
    rateLimited(key, msg, intervalMs = 60_000) {
      const now = Date.now();
      const s = limited.get(key);
      if (s && now - s.last < intervalMs) {
        s.suppressed++;
        return;
      }
      const extra = s && s.suppressed ? ` (${s.suppressed} similar message${s.suppressed > 1 ? 's' : ''} suppressed)` : '';
      limited.set(key, { last: now, suppressed: 0 });
      log.warn(msg + extra);
    },
  };
  return log;
}

/**
 * Routes the OpenTelemetry API's diag channel (used by the SDK and the upstream
 * instrumentations) into our log, at our level. Below debug, upstream warnings
 * are rate limited per message so a misbehaving instrumentation cannot flood stderr.
 */
export function installDiag(log: AgentLog): void {
  if (log.level === 'none') return;
  const fmt = (args: unknown[]): string => args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : safeJson(a))).join(' ');
  const logger: DiagLogger = {
    error: (...a) => log.rateLimited('diag:' + String(a[0]).slice(0, 80), fmt(a)),
    warn: (...a) => log.rateLimited('diag:' + String(a[0]).slice(0, 80), fmt(a)),
    info: (...a) => log.info(fmt(a)),
    debug: (...a) => log.debug(fmt(a)),
    verbose: (...a) => log.enabled('verbose') && log.debug(fmt(a)),
  };
  const lvl: Record<LogLevel, DiagLogLevel> = {
    none: DiagLogLevel.NONE,
    error: DiagLogLevel.ERROR,
    warn: DiagLogLevel.WARN,
    info: DiagLogLevel.INFO,
    debug: DiagLogLevel.DEBUG,
    verbose: DiagLogLevel.VERBOSE,
    all: DiagLogLevel.ALL,
  };
  diag.setLogger(logger, { logLevel: lvl[log.level], suppressOverrideMessage: true });
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
