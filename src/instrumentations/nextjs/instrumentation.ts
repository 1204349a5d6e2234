/**
 * Next.js needs no patch: from 16.0 on, when Next.js has matched a request
 * to its route it sets `http.route` on the span that was active when the
 * request reached it, which is the agent's HTTP SERVER span, and the HTTP
 * instrumentation names its span from that attribute when the response ends
 * (`GET /api/users/[id]`). Next.js's own spans (its second SERVER-kind span,
 * `BaseServer.handleRequest`, among them) are children of it.
 *
 * This class only declares the versions where that holds, so `otel-agent
 * doctor` can say whether an app's Next.js gets its routes named: before 16,
 * Next.js set the route on its own span only, and the agent's span keeps the
 * bounded path guess.
 */
import { InstrumentationBase, InstrumentationNodeModuleDefinition, type InstrumentationConfig } from '@opentelemetry/instrumentation';
import { AGENT_VERSION } from '../../version';

export const SUPPORTED = ['>=16.0.0 <17'];

export class NextInstrumentation extends InstrumentationBase<InstrumentationConfig> {
  constructor(config: InstrumentationConfig = {}) {
    super('@x/otel-agent/nextjs', AGENT_VERSION, config);
  }

  protected init() {
    return [new InstrumentationNodeModuleDefinition('next', SUPPORTED, (m: unknown) => m)];
  }
}
