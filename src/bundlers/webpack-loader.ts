/** The loader OtelAgentWebpackPlugin puts on instrumented packages' files: appends the trailer to CommonJS ones (core.ts). */
import { classify, isCommonJs, trailer } from './core';
import type { LoaderOptions } from './webpack';

interface LoaderContext {
  resourcePath: string;
  getOptions(): LoaderOptions;
  callback(err: null, code: string, map?: unknown, meta?: unknown): void;
}

export default function otelAgentLoader(this: LoaderContext, source: string, map?: unknown, meta?: unknown): void {
  const o = this.getOptions();
  const f = classify(this.resourcePath, { exact: new Set(o.exact), prefixes: o.prefixes });
  // Appended only: the incoming source map stays right.
  this.callback(null, f && isCommonJs(this.resourcePath, source) ? source + trailer(f) : source, map, meta);
}
