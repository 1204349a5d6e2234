/**
 * The environment a child process or worker gets, with the trace context of
 * `span` written in: a copy, never the app's object and never process.env.
 */
import { context, propagation, trace, type Span } from '@opentelemetry/api';
import { clearCarriers, envSetter, type EnvCarrier } from '../../propagation/env-carrier';

export type ParentEnv = () => EnvCarrier;

/** A copy of an env object the way Node reads it (own and inherited enumerable keys); none given: the current process.env's. */
function copyEnv(src: unknown, parentEnv: ParentEnv | undefined): EnvCarrier {
  if (typeof src !== 'object' || src === null) return parentEnv ? parentEnv() : {};
  const out: EnvCarrier = {};
  for (const k in src) out[k] = (src as Record<string, string | undefined>)[k];
  return out;
}

export function childEnv(given: unknown, span: Span, parentEnv: ParentEnv | undefined): EnvCarrier {
  const env = copyEnv(given, parentEnv);
  clearCarriers(env, propagation.fields());
  propagation.inject(trace.setSpan(context.active(), span), env, envSetter);
  return env;
}
