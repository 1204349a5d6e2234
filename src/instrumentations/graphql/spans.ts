/**
 * The spans, shared by both ways of seeing graphql-js work (patched files for
 * 15 and 16, diagnostics channels for 17): one per operation, one per failed
 * parse or validation, one per resolver when switched on.
 */
import { SpanKind, SpanStatusCode, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { findOperation, obfuscatedDocument } from './document';

export const ATTR_OPERATION_TYPE = 'graphql.operation.type';
export const ATTR_OPERATION_NAME = 'graphql.operation.name';
export const ATTR_DOCUMENT = 'graphql.document';
/** The semantic conventions' name when the operation is not known (a document that did not parse). */
export const UNKNOWN_OPERATION = 'GraphQL Operation';
/** Errors of one result recorded as exception events; a bad query can carry a hundred. */
const MAX_EXCEPTIONS = 10;

function describe(span: Span, doc: unknown, operationName: unknown): void {
  const op = findOperation(doc, operationName);
  if (op.type) {
    span.updateName(op.name ? `${op.type} ${op.name}` : op.type);
    span.setAttribute(ATTR_OPERATION_TYPE, op.type);
  }
  if (op.name) span.setAttribute(ATTR_OPERATION_NAME, op.name);
  const text = obfuscatedDocument(doc);
  if (text) span.setAttribute(ATTR_DOCUMENT, text);
}

/** The operation span, named once its document is read (only when sampled). */
export function startOperation(tracer: Tracer, parent: Context, doc: unknown, operationName: unknown): Span {
  const span = tracer.startSpan(UNKNOWN_OPERATION, { kind: SpanKind.INTERNAL }, parent);
  if (span.isRecording()) describe(span, doc, operationName);
  return span;
}

function recordErrors(span: Span, errors: readonly unknown[]): void {
  for (const e of errors.slice(0, MAX_EXCEPTIONS)) {
    if (e instanceof Error) span.recordException(e);
    else span.recordException(String((e as { message?: unknown } | null)?.message ?? e));
  }
  const first = errors[0] as { message?: unknown; constructor?: { name?: string } } | undefined;
  span.setAttribute('error.type', (first && typeof first === 'object' && first.constructor?.name) || 'GraphQLError');
  span.setStatus({ code: SpanStatusCode.ERROR, message: typeof first?.message === 'string' ? first.message : undefined });
}

/** Ends an operation span with execute()'s result, or the error it threw. */
export function endOperation(span: Span, result: unknown, thrown?: unknown): void {
  if (span.isRecording()) {
    if (thrown !== undefined) recordErrors(span, [thrown]);
    else {
      const errors = (result as { errors?: unknown } | null | undefined)?.errors;
      if (Array.isArray(errors) && errors.length > 0) recordErrors(span, errors);
    }
  }
  span.end();
}

/** End when the result settles; the caller gets the very same value (or promise) back. */
export function endWhenSettled<T>(span: Span, result: T): T {
  const then = (result as { then?: unknown } | null | undefined)?.then;
  if (typeof then !== 'function') {
    endOperation(span, result);
    return result;
  }
  (result as unknown as PromiseLike<unknown>).then(
    (v) => endOperation(span, v),
    (e: unknown) => endOperation(span, undefined, e ?? new Error('rejected')),
  );
  return result;
}

/** parse() threw: a span for the operation that never was. */
export function parseFailed(tracer: Tracer, parent: Context, err: unknown): void {
  const span = tracer.startSpan(UNKNOWN_OPERATION, { kind: SpanKind.INTERNAL }, parent);
  if (span.isRecording()) recordErrors(span, [err]);
  span.end();
}

/** validate() returned errors: execution will not happen, so the operation's span says why. */
export function validationFailed(tracer: Tracer, parent: Context, doc: unknown, errors: unknown): void {
  if (!Array.isArray(errors) || errors.length === 0) return;
  const span = tracer.startSpan(UNKNOWN_OPERATION, { kind: SpanKind.INTERNAL }, parent);
  if (span.isRecording()) {
    describe(span, doc, undefined);
    recordErrors(span, errors);
  }
  span.end();
}

export const ATTR_FIELD_NAME = 'graphql.field.name';
export const ATTR_FIELD_PATH = 'graphql.field.path';
export const ATTR_FIELD_TYPE = 'graphql.field.type';

/** A resolver's span, `{Parent}.{field}`; list items each get theirs (the path says which). */
export function startResolver(tracer: Tracer, parent: Context, parentType: string, field: string, path: () => string, returnType: string): Span {
  const span = tracer.startSpan(`${parentType}.${field}`, { kind: SpanKind.INTERNAL }, parent);
  if (span.isRecording()) span.setAttributes({ [ATTR_FIELD_NAME]: field, [ATTR_FIELD_PATH]: path(), [ATTR_FIELD_TYPE]: returnType });
  return span;
}

export function endResolver(span: Span, err?: unknown): void {
  if (err !== undefined && span.isRecording()) recordErrors(span, [err]);
  span.end();
}
