/**
 * OTEL_TRACES_EXPORTER=console: each finished trace printed as an indented
 * tree, like the diagrams users draw:
 *
 *   GET /orders/:id  server  200  41.2 ms  trace 4bf92f3577b34da6a3ce929d0e0e4736
 *   ├─ SELECT orders  client  12.0 ms
 *   └─ GET  client  200  25.1 ms
 *
 * Spans are held per trace until the local root ends (a span with no parent or
 * a remote parent), then that root's subtree is printed. Whatever is still held
 * at exit is printed too, so nothing silently disappears.
 */
import { SpanStatusCode } from '@opentelemetry/api';
import { hrTimeToMilliseconds } from '@opentelemetry/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type { AgentExporter, ExportOutcome } from '../processor';

const KIND = ['internal', 'server', 'client', 'producer', 'consumer'];
/** Bound the spans held while waiting for roots: a trace whose root never ends must not grow memory forever. */
const MAX_HELD = 10_000;

export function formatLine(s: ReadableSpan, root: boolean): string {
  const parts = [s.name, KIND[s.kind] ?? 'internal'];
  const code = s.attributes['http.response.status_code'] ?? s.attributes['rpc.grpc.status_code'];
  if (code !== undefined) parts.push(String(code));
  parts.push(`${hrTimeToMilliseconds(s.duration).toFixed(1)} ms`);
  if (s.status.code === SpanStatusCode.ERROR) parts.push(`ERROR${s.status.message ? ': ' + s.status.message.split('\n')[0]!.slice(0, 120) : ''}`);
  if (s.links.length) parts.push(`links ${s.links.length}`);
  if (root) {
    const sc = s.spanContext();
    parts.push(`trace ${sc.traceId}`);
    if (s.parentSpanContext?.isRemote) parts.push(`(continues ${s.parentSpanContext.spanId})`);
  }
  return parts.join('  ');
}

export function renderTree(root: ReadableSpan, all: ReadableSpan[]): string {
  const kids = new Map<string, ReadableSpan[]>();
  for (const s of all) {
    const p = s.parentSpanContext?.spanId;
    if (!p) continue;
    let l = kids.get(p);
    if (!l) kids.set(p, (l = []));
    l.push(s);
  }
  const start = (s: ReadableSpan): number => s.startTime[0] * 1e9 + s.startTime[1];
  const out: string[] = [formatLine(root, true)];
  const walk = (s: ReadableSpan, prefix: string): void => {
    const children = (kids.get(s.spanContext().spanId) ?? []).sort((a, b) => start(a) - start(b));
    children.forEach((c, i) => {
      const last = i === children.length - 1;
      out.push(`${prefix}${last ? '└─ ' : '├─ '}${formatLine(c, false)}`);
      walk(c, prefix + (last ? '   ' : '│  '));
    });
  };
  walk(root, '');
  return out.join('\n');
}

export class ConsoleTreeExporter implements AgentExporter {
  readonly description = 'console';
  private readonly held = new Map<string, ReadableSpan[]>();
  private count = 0;

  /**
   * @param isOpen tells whether a span id belongs to a span of this process that
   *   has not ended yet, so a server span whose caller is in this same process
   *   (remote parent, but local) waits for that caller instead of printing alone.
   */
  constructor(
    private readonly isOpen: (spanId: string) => boolean = () => false,
    private readonly write: (s: string) => void = (s) => process.stdout.write(s),
  ) {}

  private take(spans: ReadableSpan[], all: boolean): string[] {
    const blocks: string[] = [];
    for (const s of spans) {
      const tid = s.spanContext().traceId;
      let l = this.held.get(tid);
      if (!l) this.held.set(tid, (l = []));
      l.push(s);
      this.count++;
    }
    for (const [tid, list] of this.held) {
      const hasParentHere = (s: ReadableSpan): boolean => {
        const p = s.parentSpanContext?.spanId;
        return !!p && (this.isOpen(p) || list.some((x) => x.spanContext().spanId === p));
      };
      const roots = all
        ? list.filter((s) => !list.some((x) => x.spanContext().spanId === s.parentSpanContext?.spanId))
        : list.filter((s) => (!s.parentSpanContext || s.parentSpanContext.isRemote) && !hasParentHere(s));
      if (roots.length === 0) continue;
      const used = new Set<ReadableSpan>();
      for (const r of roots) {
        const sub = subtree(r, list);
        sub.forEach((x) => used.add(x));
        blocks.push(renderTree(r, sub));
      }
      const rest = list.filter((s) => !used.has(s));
      this.count -= list.length - rest.length;
      if (rest.length) this.held.set(tid, rest);
      else this.held.delete(tid);
    }
    if (this.count > MAX_HELD) blocks.push(...this.take([], true));
    return blocks;
  }

  export(spans: ReadableSpan[]): Promise<ExportOutcome> {
    return Promise.resolve(this.exportSync(spans, 0, false));
  }

  exportSync(spans: ReadableSpan[], _timeoutMs: number, all = true): ExportOutcome {
    try {
      const blocks = this.take(spans, all);
      if (blocks.length) this.write(blocks.join('\n\n') + '\n\n');
      return { ok: true };
    } catch (e) {
      return { ok: false, error: (e as Error).message };
    }
  }

  shutdown(): Promise<void> {
    this.exportSync([], 0, true);
    return Promise.resolve();
  }
}

function subtree(root: ReadableSpan, list: ReadableSpan[]): ReadableSpan[] {
  const ids = new Set([root.spanContext().spanId]);
  const out = [root];
  let grew = true;
  while (grew) {
    grew = false;
    for (const s of list) {
      const p = s.parentSpanContext?.spanId;
      if (p && ids.has(p) && !ids.has(s.spanContext().spanId)) {
        ids.add(s.spanContext().spanId);
        out.push(s);
        grew = true;
      }
    }
  }
  return out;
}
