/**
 * OTLP partial success: a collector that accepted an export may still say it
 * dropped some of the spans (ExportTraceServiceResponse.partial_success, in
 * the body of a 200 answer over HTTP, or in the gRPC response message). Those
 * spans are lost as surely as a failed export, so they are counted.
 *
 * The protobuf reader below knows just the two messages involved:
 *   ExportTraceServiceResponse { ExportTracePartialSuccess partial_success = 1; }
 *   ExportTracePartialSuccess  { int64 rejected_spans = 1; string error_message = 2; }
 * and skips any other field, so a newer collector's additions do not matter.
 */

export interface PartialSuccess {
  rejected: number;
  message: string;
}

/** The most of a collector's error_message that is kept (it goes into one warning line). */
const MESSAGE_MAX = 300;

/** Reads a base-128 varint; returns [value, next offset] or undefined on a truncated buffer. */
function varint(b: Uint8Array, i: number): [number, number] | undefined {
  let v = 0;
  let mul = 1;
  for (let n = 0; n < 10; n++) {
    if (i >= b.length) return undefined;
    const byte = b[i++]!;
    // Counts beyond 2^53 are not meaningful span counts; precision loss there is harmless.
    v += (byte & 0x7f) * mul;
    mul *= 128;
    if ((byte & 0x80) === 0) return [v, i];
  }
  return undefined;
}

interface Field {
  no: number;
  wire: number;
  value: number;
  bytes?: Uint8Array;
}

/** The fields of one protobuf message; undefined if the bytes are not a well-formed message. */
function fields(b: Uint8Array): Field[] | undefined {
  const out: Field[] = [];
  let i = 0;
  while (i < b.length) {
    const tag = varint(b, i);
    if (!tag) return undefined;
    i = tag[1];
    const no = Math.floor(tag[0] / 8);
    const wire = tag[0] % 8;
    if (wire === 0) {
      const v = varint(b, i);
      if (!v) return undefined;
      out.push({ no, wire, value: v[0] });
      i = v[1];
    } else if (wire === 2) {
      const len = varint(b, i);
      if (!len || len[1] + len[0] > b.length) return undefined;
      out.push({ no, wire, value: len[0], bytes: b.subarray(len[1], len[1] + len[0]) });
      i = len[1] + len[0];
    } else if (wire === 1 || wire === 5) {
      i += wire === 1 ? 8 : 4;
      if (i > b.length) return undefined;
    } else return undefined;
  }
  return out;
}

/** Keeps a collector's message printable on one line and short. */
function cleanMessage(s: string): string {
  // eslint-disable-next-line no-control-regex
  const one = s.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return one.length > MESSAGE_MAX ? one.slice(0, MESSAGE_MAX) + '...' : one;
}

/** From a protobuf ExportTraceServiceResponse (http/protobuf body or gRPC message). */
export function partialSuccessFromProto(body: Uint8Array): PartialSuccess | undefined {
  const top = fields(body);
  const ps = top?.find((f) => f.no === 1 && f.wire === 2);
  if (!ps?.bytes) return undefined;
  const inner = fields(ps.bytes);
  if (!inner) return undefined;
  let rejected = 0;
  let message = '';
  for (const f of inner) {
    if (f.no === 1 && f.wire === 0) rejected = f.value;
    else if (f.no === 2 && f.wire === 2 && f.bytes) message = Buffer.from(f.bytes).toString('utf8');
  }
  return rejected > 0 || message ? { rejected, message: cleanMessage(message) } : undefined;
}

/** From an OTLP/JSON answer; protobuf JSON allows camelCase and the original snake_case names, int64 as string or number. */
export function partialSuccessFromJson(body: Uint8Array): PartialSuccess | undefined {
  let j: unknown;
  try {
    j = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch {
    return undefined;
  }
  if (j === null || typeof j !== 'object') return undefined;
  const o = j as Record<string, unknown>;
  const ps = (o.partialSuccess ?? o.partial_success) as Record<string, unknown> | undefined;
  if (ps === null || typeof ps !== 'object') return undefined;
  const n = Number(ps.rejectedSpans ?? ps.rejected_spans ?? 0);
  const rejected = Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
  const m = ps.errorMessage ?? ps.error_message;
  const message = typeof m === 'string' ? m : '';
  return rejected > 0 || message ? { rejected, message: cleanMessage(message) } : undefined;
}
