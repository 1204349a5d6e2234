import type { AgentConfig } from './env';
import type { AgentLog } from './log';

const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key', 'x-auth-token'];

/** Capturing a header is opt-in by name; naming one that carries credentials is allowed (it is the user's data) but said out loud once. */
export function warnCredentialHeaders(cfg: AgentConfig, log: AgentLog): void {
  const lists: [string, readonly string[]][] = [
    ['OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST', cfg.http.captureServerRequestHeaders],
    ['OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE', cfg.http.captureServerResponseHeaders],
    ['OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST', cfg.http.captureClientRequestHeaders],
    ['OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE', cfg.http.captureClientResponseHeaders],
    // Header capture per route (configuration file): each route's lists, named by their pattern.
    ...cfg.http.serverRoutes.flatMap((r): [string, readonly string[]][] => [
      [`the server route ${r.match} (configuration file)`, [...r.request, ...r.response]],
    ]),
    ...cfg.http.clientRoutes.flatMap((r): [string, readonly string[]][] => [
      [`the client route ${r.match} (configuration file)`, [...r.request, ...r.response]],
    ]),
  ];
  for (const [name, headers] of lists) {
    const risky = headers.filter((h) => CREDENTIAL_HEADERS.includes(h));
    if (risky.length)
      log.warn(
        `${name} names ${risky.join(', ')}, which carr${risky.length > 1 ? 'y' : 'ies'} credentials: their values will be exported in span attributes as asked`,
      );
  }
}
