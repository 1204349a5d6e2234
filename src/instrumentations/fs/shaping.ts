/**
 * Makes the upstream fs instrumentation's spans private and worth keeping on:
 *
 *  - by default no spans for calls that only ask about a file (exists, access,
 *    stat, lstat, realpath, readlink and their Sync/promise forms): static
 *    middleware and frameworks make several per request, and on a static-file
 *    app they were most of all spans. Reads, writes, opens, listings and
 *    changes are still traced. `OTEL_AGENT_FS_SPANS=all` traces every call.
 *  - a probe that finds nothing (ENOENT, ENOTDIR) is an answer, not a failure:
 *    no ERROR status, no exception event;
 *  - a failed call keeps its error code (status message `ENOENT: no such file
 *    or directory, open`, `error.type` and `exception.type` `ENOENT`) but never
 *    the file path: not in the status message, not in `exception.message`, and
 *    no `exception.stacktrace` (its first line is the message with the path;
 *    the stack of an asynchronous fs error has no app frames anyway, and the
 *    span's parent already says where the call came from).
 *
 * The app's own error objects are not touched: only what is exported changes.
 *
 * How: the upstream instrumentation gets its tracer from a wrapper (public
 * `setTracerProvider`). For a probe the wrapper returns a non-recording span
 * carrying the caller's span context, so upstream still binds the callback to
 * the caller's context (its `createHook` returning false would instead run
 * the callback with tracing suppressed, and the app's work in it would vanish
 * from the trace). Other spans are wrapped so that upstream's
 * `recordException`/`setStatus` are held back and replaced, at `end()`, by a
 * path-free version; upstream's `endHook` hands over the call's arguments so
 * the paths the app passed can be removed from messages of any shape.
 */
import {
  INVALID_SPAN_CONTEXT,
  SpanStatusCode,
  context,
  trace,
  type Attributes,
  type AttributeValue,
  type Context,
  type Exception,
  type Link,
  type Span,
  type SpanContext,
  type SpanOptions,
  type SpanStatus,
  type TimeInput,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import type { Instrumentation } from '@opentelemetry/instrumentation';

export type FsSpanMode = 'io' | 'all';

/** Span names (`fs <function>`) of calls that only ask whether a file exists, what it is or where it points. */
const PROBES: ReadonlySet<string> = new Set(
  ['access', 'exists', 'stat', 'lstat', 'realpath', 'realpath.native', 'readlink'].flatMap((f) => [`fs ${f}`, `fs ${f.replace(/^(\w+)/, '$1Sync')}`]),
);

/** What a probe answers when the file is not there: the answer to the question, not a failure. */
const NOT_THERE: ReadonlySet<string> = new Set(['ENOENT', 'ENOTDIR']);

/** Functions whose second argument is a path too. */
const TWO_PATHS = /^fs (?:rename|copyFile|cp|link|symlink)(?:Sync)?$/;

interface FsError {
  code?: unknown;
  name?: unknown;
  message?: unknown;
  path?: unknown;
  dest?: unknown;
}

function pathText(v: unknown): string[] {
  if (typeof v === 'string') return v ? [v] : [];
  if (v instanceof URL) return [v.href, decodeURIComponent(v.pathname)];
  if (Buffer.isBuffer(v)) return v.length ? [v.toString()] : [];
  return [];
}

/** `ENOENT: no such file or directory, open '/a/b'` and `... rename '/a' -> '/b'`: libuv's shape. */
const UV_MESSAGE = /^([A-Z][A-Z0-9_]*: [^']*?, \w+) '/s;
/** Any quoted text that looks like a path, for messages of other shapes. */
const QUOTED_PATH = /'[^']*[/\\][^']*'|"[^"]*[/\\][^"]*"/g;
/** An absolute path written without quotes (`Cannot copy /a to a subdirectory of self /a/b`), POSIX or Windows. */
const BARE_PATH = /(^|[\s(=])(?:\/|[A-Za-z]:\\)[^\s'"),]*/g;

/** The error as it may be exported: its type (code, else name) and a message without any path. */
export function pathFreeError(err: unknown, name: string, args: ArrayLike<unknown> | undefined): { type: string; message: string } {
  const e = (typeof err === 'object' && err !== null ? err : {}) as FsError;
  const ctor = (err as { constructor?: { name?: unknown } } | null | undefined)?.constructor?.name;
  const type =
    typeof e.code === 'string' && e.code !== '' ? e.code : typeof e.name === 'string' && e.name !== '' ? e.name : typeof ctor === 'string' ? ctor : 'Error';
  let message = typeof e.message === 'string' ? e.message : typeof err === 'string' ? err : '';
  const uv = UV_MESSAGE.exec(message);
  if (uv) message = uv[1]!;
  const paths = [...pathText(e.path), ...pathText(e.dest)];
  if (args) {
    paths.push(...pathText(args[0]));
    if (TWO_PATHS.test(name)) paths.push(...pathText(args[1]));
  }
  // Paths that look like paths first, whole; then whatever the app passed (a relative path, a
  // name without a slash), longest first so a path is not left half-removed by a shorter one.
  message = message.replace(QUOTED_PATH, "'<path>'").replace(BARE_PATH, '$1<path>');
  for (const p of paths.sort((a, b) => b.length - a.length)) if (message.includes(p)) message = message.split(p).join('<path>');
  return { type, message: message || type };
}

/**
 * An fs span whose error is recorded only at end(), path-free. Upstream calls
 * recordException(error), then setStatus(ERROR, error.message), then its
 * endHook, then end().
 */
class PathFreeFsSpan implements Span {
  args: ArrayLike<unknown> | undefined;
  private error: unknown;
  private failed = false;

  constructor(
    private readonly inner: Span,
    private readonly name: string,
    private readonly probe: boolean,
  ) {}

  spanContext(): SpanContext {
    return this.inner.spanContext();
  }
  setAttribute(key: string, value: AttributeValue): this {
    this.inner.setAttribute(key, value);
    return this;
  }
  setAttributes(attributes: Attributes): this {
    this.inner.setAttributes(attributes);
    return this;
  }
  addEvent(name: string, attributesOrStartTime?: Attributes | TimeInput, startTime?: TimeInput): this {
    this.inner.addEvent(name, attributesOrStartTime, startTime);
    return this;
  }
  addLink(link: Link): this {
    this.inner.addLink(link);
    return this;
  }
  addLinks(links: Link[]): this {
    this.inner.addLinks(links);
    return this;
  }
  setStatus(status: SpanStatus): this {
    // An ERROR status carries the raw message: decided at end() from the error instead.
    if (status.code === SpanStatusCode.ERROR) this.failed = true;
    else this.inner.setStatus(status);
    return this;
  }
  updateName(name: string): this {
    this.inner.updateName(name);
    return this;
  }
  isRecording(): boolean {
    return this.inner.isRecording();
  }
  recordException(exception: Exception): void {
    if (this.error === undefined) this.error = exception;
    this.failed = true;
  }
  end(endTime?: TimeInput): void {
    if (this.failed) this.recordFailure();
    this.inner.end(endTime);
  }

  private recordFailure(): void {
    this.failed = false;
    const e = this.error as FsError | undefined;
    if (this.probe && typeof e?.code === 'string' && NOT_THERE.has(e.code)) return;
    const { type, message } = pathFreeError(this.error, this.name, this.args);
    // No stack: recordException with a plain object records type and message only.
    this.inner.recordException({ code: type, message });
    this.inner.setStatus({ code: SpanStatusCode.ERROR, message });
    this.inner.setAttribute('error.type', type);
  }
}

class FsTracer implements Tracer {
  constructor(
    private readonly inner: Tracer,
    private readonly mode: FsSpanMode,
  ) {}

  startSpan(name: string, options?: SpanOptions, ctx: Context = context.active()): Span {
    const probe = PROBES.has(name);
    // The caller's own span context: anything upstream binds to "the fs span" stays in the caller's trace.
    if (probe && this.mode !== 'all') return trace.wrapSpanContext(trace.getSpanContext(ctx) ?? INVALID_SPAN_CONTEXT);
    const span = this.inner.startSpan(name, options, ctx);
    return span.isRecording() ? new PathFreeFsSpan(span, name, probe) : span;
  }

  startActiveSpan: Tracer['startActiveSpan'] = ((name: string, ...rest: unknown[]) => {
    const fn = rest[rest.length - 1] as (span: Span) => unknown;
    const options = (rest.length >= 2 ? rest[0] : undefined) as SpanOptions | undefined;
    const parent = (rest.length >= 3 ? (rest[1] as Context | undefined) : undefined) ?? context.active();
    const span = this.startSpan(name, options, parent);
    return context.with(trace.setSpan(parent, span), fn, undefined, span);
  }) as Tracer['startActiveSpan'];
}

/** The upstream configuration: spans only inside a traced operation, and the call's arguments handed to the span. */
function upstreamConfig(): Record<string, unknown> {
  return {
    requireParentSpan: true,
    endHook: (_fn: string, info: { args: ArrayLike<unknown>; span: Span }) => {
      if (info.span instanceof PathFreeFsSpan) info.span.args = info.args;
    },
  };
}

/** Creates the upstream fs instrumentation (through `make`) with the shaping above. */
export function shapeFs(mode: FsSpanMode, make: (config: Record<string, unknown>) => Instrumentation[]): Instrumentation[] {
  const list = make(upstreamConfig());
  const provider: TracerProvider = { getTracer: (name, version, options) => new FsTracer(trace.getTracerProvider().getTracer(name, version, options), mode) };
  for (const i of list) i.setTracerProvider(provider);
  return list;
}
