/**
 * OTLP log records, decoded by the receiver (otlp-receiver.ts) with the official
 * protos and normalised like its spans and metric points: one record per log
 * record, with its body, severity, attributes and trace correlation, so a test
 * asserts on what a backend would store. Protobuf and OTLP/JSON share this path.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Decoders } from './otlp-metrics';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Raw = any;

export interface RecvLogRecord {
  body: unknown;
  severityNumber: number;
  severityText: string;
  attributes: Record<string, unknown>;
  /** Hex; '' when the record was not made inside a span. */
  traceId: string;
  spanId: string;
  timeNs: bigint;
  resource: Record<string, unknown>;
  scope: string;
}

interface PbType {
  decode(buf: Uint8Array): object;
}

let logsType: Promise<PbType> | undefined;

/**
 * The generated root the receiver uses for traces and metrics has no logs, so the official
 * logs protos are loaded as .proto files: the copy dd-trace (a devDependency) ships, unchanged
 * from opentelemetry-proto, into a Root of their own (not protobufjs' shared default one).
 */
export function logsRequestType(): Promise<PbType> {
  return (logsType ??= (async () => {
    const req = createRequire(import.meta.url);
    type Reflected = PbType & { toObject(m: object): object };
    const protobuf = req('protobufjs') as { Root: new () => { loadSync(p: string): { lookupType(n: string): Reflected } } };
    const dir = join(dirname(req.resolve('dd-trace/package.json')), 'packages/dd-trace/src/opentelemetry/otlp');
    const T = new protobuf.Root().loadSync(join(dir, 'logs_service.proto')).lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest');
    // A reflected type's messages carry every field's default on their prototype (an AnyValue holding
    // an int would also show stringValue ''): toObject keeps only the fields that were sent.
    return { decode: (buf: Uint8Array) => T.toObject(T.decode(buf)) };
  })());
}

/** An AnyValue (protobuf or JSON) as a plain JS value. */
function anyValue(v: Raw, d: Decoders): unknown {
  if (v == null) return undefined;
  if (v.stringValue != null) return String(v.stringValue);
  if (v.boolValue != null) return Boolean(v.boolValue);
  if (v.intValue != null) return Number(d.toBig(v.intValue));
  if (v.doubleValue != null) return Number(v.doubleValue);
  if (v.arrayValue != null) return ((v.arrayValue.values ?? []) as Raw[]).map((x) => anyValue(x, d));
  if (v.kvlistValue != null) return d.attrs(v.kvlistValue.values);
  return undefined;
}

export function toLogRecords(req: Raw, d: Decoders): RecvLogRecord[] {
  const out: RecvLogRecord[] = [];
  for (const rl of (req?.resourceLogs ?? []) as Raw[]) {
    const resource = d.attrs(rl.resource?.attributes);
    for (const sl of (rl.scopeLogs ?? []) as Raw[]) {
      const scope = String(sl.scope?.name ?? '');
      for (const r of (sl.logRecords ?? []) as Raw[]) {
        out.push({
          body: anyValue(r.body, d),
          severityNumber: typeof r.severityNumber === 'number' ? r.severityNumber : Number(r.severityNumber ?? 0),
          severityText: String(r.severityText ?? ''),
          attributes: d.attrs(r.attributes),
          traceId: r.traceId && (r.traceId.length ?? 0) > 0 ? d.idHex(r.traceId) : '',
          spanId: r.spanId && (r.spanId.length ?? 0) > 0 ? d.idHex(r.spanId) : '',
          timeNs: d.toBig(r.timeUnixNano ?? 0),
          resource,
          scope,
        });
      }
    }
  }
  return out;
}
