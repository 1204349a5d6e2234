/**
 * The shape of a run's spans with everything that differs between two runs of the same app
 * taken out (ids, timings, ephemeral ports), as a tree: what "the bundled app gives the same
 * spans" is checked against. Equal shapes mean the same names, kinds, scopes, statuses,
 * events, parent/child structure and attributes.
 */
import type { RecvSpan } from '../harness/otlp-receiver';

export interface Shape {
  name: string;
  kind: string;
  scope: string;
  status: string;
  attributes: Record<string, unknown>;
  events: string[];
  children: Shape[];
}

/** Ports the test's own services listen on: kept, they are the same in every run. */
export interface Normalize {
  /** Ports that are the same in both runs (5432, 6379, the broker's). */
  stablePorts: number[];
  /** This run's ephemeral ports (the app's own server), each replaced by `<port>`. */
  runPorts: number[];
}

const PORT_KEY = /(?:^|\.)port$/;

function normValue(key: string, v: unknown, n: Normalize): unknown {
  if (typeof v === 'number' && PORT_KEY.test(key)) return n.stablePorts.includes(v) ? v : '<port>';
  if (typeof v === 'string') {
    let s = v;
    for (const p of n.runPorts) s = s.split(`:${p}`).join(':<port>');
    if (PORT_KEY.test(key) && /^\d+$/.test(s) && !n.stablePorts.includes(Number(s))) return '<port>';
    return s;
  }
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return v.map((x) => normValue(key, x, n));
  return v;
}

function sortDeep(s: Shape): Shape {
  const children = s.children.map(sortDeep);
  children.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : JSON.stringify(a) > JSON.stringify(b) ? 1 : 0));
  return { ...s, children };
}

/** The trees of one service's spans (deduplicated: an exit flush may deliver a span twice), roots sorted. */
export function shapeOf(spans: RecvSpan[], n: Normalize): Shape[] {
  const seen = new Set<string>();
  const mine = spans.filter((s) => {
    const id = `${s.traceId}/${s.spanId}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
  const byId = new Map(mine.map((s) => [`${s.traceId}/${s.spanId}`, s]));
  const shapes = new Map<RecvSpan, Shape>();
  for (const s of mine) {
    const attributes: Record<string, unknown> = {};
    for (const k of Object.keys(s.attributes).sort()) attributes[k] = normValue(k, s.attributes[k], n);
    shapes.set(s, {
      // The CLIENT span of a fetch to the app's own server is named by its URL, port included.
      name: normValue('name', s.name, n) as string,
      kind: s.kind,
      scope: s.scope.name,
      status: s.status.code,
      attributes,
      events: s.events.map((e) => e.name),
      children: [],
    });
  }
  const roots: Shape[] = [];
  for (const s of mine) {
    const parent = s.parentSpanId ? byId.get(`${s.traceId}/${s.parentSpanId}`) : undefined;
    if (parent) shapes.get(parent)!.children.push(shapes.get(s)!);
    else roots.push(shapes.get(s)!);
  }
  return roots.map(sortDeep).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
}

/** One line per span, indented by depth: what a failure message shows first. */
export function outline(shapes: Shape[], depth = 0): string {
  return shapes.map((s) => `${'  '.repeat(depth)}${s.name}  ${s.kind}  [${s.scope}]\n${outline(s.children, depth + 1)}`).join('');
}
