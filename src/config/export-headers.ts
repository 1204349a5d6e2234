/**
 * The check OTEL_EXPORTER_OTLP_HEADERS and OTEL_EXPORTER_OTLP_TRACES_HEADERS entries
 * pass before they are sent with every export (src/config/index.ts drops the rest).
 */
import { HEADER_NAME as HEADER_TOKEN } from './spec';

/**
 * Why an export header cannot be sent, or undefined. HTTP: the name an RFC 9110
 * token, the value field-value octets (no CR, LF, NUL or other controls but tab).
 * gRPC metadata is stricter: lower-case [0-9a-z_.-] names (grpc-js lower-cases
 * them itself) and printable ASCII values.
 */
export function headerProblem(name: string, value: string, grpc: boolean): string | undefined {
  const lower = name.toLowerCase();
  if (!HEADER_TOKEN.test(lower)) return 'has a name that is not a valid header name';
  if (grpc && !/^[0-9a-z_.-]+$/.test(lower)) return 'has a name gRPC metadata does not allow';
  if (grpc && lower.endsWith('-bin')) return 'names binary gRPC metadata (-bin), which takes bytes, not text';
  if (/[\r\n]/.test(value)) return 'has a value that contains CR or LF';
  if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(value)) return 'has a value with characters a header cannot carry';
  if (grpc && !/^[\x20-\x7e]*$/.test(value)) return 'has a value gRPC metadata cannot carry (printable ASCII only)';
  return undefined;
}
