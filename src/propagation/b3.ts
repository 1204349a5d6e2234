/**
 * B3, single (`b3`) and multi (`X-B3-*`) header, around
 * @opentelemetry/propagator-b3. Both encodings are read whichever one is
 * configured for writing, as Zipkin's own libraries do (upstream already
 * does; what was missing is that the HTTP server looked only for the written
 * headers, see readable-headers.ts).
 *
 * Added here: a sampling decision sent without ids, `b3: 0` (what a Zipkin
 * or Envoy caller sends to say "do not trace this", also `X-B3-Sampled: 0`
 * alone). Upstream ignores it, so the request became a sampled root. Here
 * the decision is honoured: a context that is already there (ids in the
 * other encoding, or another propagator's) takes the not-sampled flag, else
 * a new unsampled trace starts, so nothing under the request is recorded and
 * downstream calls propagate "not sampled". An accept without ids (`b3: 1`,
 * `b3: d`) has no parent to give: the local sampler decides, as for a request
 * with no context.
 */
import { trace, TraceFlags, isSpanContextValid, type Context, type TextMapGetter, type TextMapPropagator, type TextMapSetter } from '@opentelemetry/api';
import { B3InjectEncoding, B3Propagator } from '@opentelemetry/propagator-b3';
import { randomFillSync } from 'node:crypto';

const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

/** Whether the carrier says "not sampled" without saying which trace: undefined when it says something else. */
function denyWithoutIds(carrier: unknown, getter: TextMapGetter): boolean {
  const single = first(getter.get(carrier, 'b3'));
  if (single !== undefined) return single.trim() === '0';
  if (first(getter.get(carrier, 'x-b3-traceid')) !== undefined) return false;
  if (first(getter.get(carrier, 'x-b3-flags'))?.trim() === '1') return false;
  const s = first(getter.get(carrier, 'x-b3-sampled'))?.trim().toLowerCase();
  return s === '0' || s === 'false';
}

/** The multi-header ids, read as if the single header were not there. */
const withoutSingle = (getter: TextMapGetter): TextMapGetter => ({
  get: (c, k) => (k === 'b3' ? undefined : getter.get(c, k)),
  keys: (c) => getter.keys(c).filter((k) => k !== 'b3'),
});

function newIds(): { traceId: string; spanId: string } {
  const b = randomFillSync(Buffer.allocUnsafe(24));
  return { traceId: b.toString('hex', 0, 16), spanId: b.toString('hex', 16, 24) };
}

export class B3 implements TextMapPropagator {
  private readonly inner: B3Propagator;

  constructor(encoding: 'single' | 'multi') {
    this.inner = new B3Propagator({ injectEncoding: encoding === 'single' ? B3InjectEncoding.SINGLE_HEADER : B3InjectEncoding.MULTI_HEADER });
  }

  inject(ctx: Context, carrier: unknown, setter: TextMapSetter): void {
    this.inner.inject(ctx, carrier, setter);
  }

  extract(ctx: Context, carrier: unknown, getter: TextMapGetter): Context {
    if (!denyWithoutIds(carrier, getter)) return this.inner.extract(ctx, carrier, getter);
    const found = trace.getSpanContext(this.inner.extract(ctx, carrier, withoutSingle(getter))) ?? trace.getSpanContext(ctx);
    const ids = found && isSpanContextValid(found) ? found : newIds();
    return trace.setSpanContext(ctx, { traceId: ids.traceId, spanId: ids.spanId, traceFlags: TraceFlags.NONE, isRemote: true });
  }

  fields(): string[] {
    return this.inner.fields();
  }
}
