/**
 * The slice of upstream instrumentation-aws-sdk's per-service extension contract this agent
 * relies on (not exported by upstream: src/services/ServiceExtension.ts there). Upstream calls
 * requestPreSpanHook before starting the span, requestPostSpanHook with the span active right
 * before the SDK sends the request, and responseHook when the SDK returns a response.
 */
import type { Attributes, DiagLogger, Span, SpanKind, Tracer } from '@opentelemetry/api';
import type { AgentLog } from '../../log';

/** What a command input looks like to us: anything, read defensively. */
export type Input = Record<string | symbol, unknown>;

export interface NormalizedRequest {
  serviceName: string;
  commandName: string;
  commandInput: Input | undefined;
  region?: string;
}

export interface NormalizedResponse {
  data: Record<string, unknown> | undefined;
  request: NormalizedRequest;
  requestId?: string;
}

export interface RequestMetadata {
  isIncoming: boolean;
  isStream?: boolean;
  spanAttributes?: Attributes;
  spanKind?: SpanKind;
  spanName?: string;
}

export interface ServiceExtension {
  requestPreSpanHook(request: NormalizedRequest, config: unknown, diag: DiagLogger): RequestMetadata;
  requestPostSpanHook?(request: NormalizedRequest): void;
  responseHook?(response: NormalizedResponse, span: Span, tracer: Tracer, config: unknown, startTime: unknown): unknown;
}

/** Runs a hook; an exception costs the span its extra data, never the app its AWS call. */
export function contained<A extends unknown[], R>(log: AgentLog, what: string, fn: (...a: A) => R, fallback: () => R): (...a: A) => R {
  return (...a: A): R => {
    try {
      return fn(...a);
    } catch (e) {
      log.warnOnce(`aws-sdk:${what}`, `aws-sdk: ${what} failed (${e instanceof Error ? e.message : String(e)}); the AWS call goes on untouched`);
      return fallback();
    }
  };
}
