/**
 * undici / global fetch configuration, loaded at activation (it needs the
 * HTTP naming helpers, which the definition must not import).
 */
import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { UndiciInstrumentationConfig } from '@opentelemetry/instrumentation-undici';
import type { AgentConfig } from '../../env';
import { clientSpanName, errorView, fetchUrlAttributes } from '../http-naming';

export function undiciConfig(cfg: AgentConfig): UndiciInstrumentationConfig {
  return {
    headersToSpanAttributes: { requestHeaders: [...cfg.http.captureClientRequestHeaders], responseHeaders: [...cfg.http.captureClientResponseHeaders] },
    startSpanHook: (req) => fetchUrlAttributes(req.origin, req.path, req.method),
    requestHook: (span, req) => {
      if (span.isRecording()) span.updateName(clientSpanName(req.method, req.origin, req.path));
    },
  };
}

/**
 * error.type of a failed fetch: upstream uses `error.code || error.name`, which
 * for a timeout is the DOMException code 23. Its channel handlers are bound on
 * enable(), so the replacement is installed between a disable() and an enable().
 */
export function preciseFetchErrors(i: Instrumentation | undefined): void {
  const inst = i as unknown as ({ onError?: (m: { request: unknown; error: unknown }) => unknown } & Instrumentation) | undefined;
  const orig = inst?.onError;
  if (!inst || typeof orig !== 'function') return;
  inst.disable();
  inst.onError = function (this: unknown, m: { request: unknown; error: unknown }) {
    return orig.call(this, { ...m, error: errorView(m.error, 'code') });
  };
  inst.enable();
}
