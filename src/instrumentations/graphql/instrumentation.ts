/**
 * graphql-js, the engine under Apollo Server, graphql-yoga's parser and
 * validator, Mercurius and type-graphql: one INTERNAL span per operation
 * (`query GetUser`, `mutation`), and one for a document that fails to parse
 * or validate. The HTTP SERVER span around it is left as it is: the query
 * text names nothing there.
 *
 * graphql 15 and 16 are CommonJS only (an ES module import loads the same
 * files), so their execute/parse/validate are patched on the files' exports,
 * which every caller reaches, the package's own graphql() included.
 * graphql 17 publishes diagnostics channels (`graphql:execute`, ...), from its
 * CommonJS and ES module builds alike: for it, nothing is patched
 * (channels.ts).
 *
 * Resolver spans (OTEL_AGENT_GRAPHQL_RESOLVER_SPANS) are off by default: a
 * list of a hundred items with three resolved fields each is three hundred
 * spans. On, each resolver the schema defines gets one; default resolvers
 * (a property read) never do.
 */
import { context, createContextKey, trace, type Context } from '@opentelemetry/api';
import {
  InstrumentationBase,
  InstrumentationNodeModuleDefinition,
  InstrumentationNodeModuleFile,
  type InstrumentationConfig,
} from '@opentelemetry/instrumentation';
import { AGENT_VERSION } from '../../version';
import { endOperation, endResolver, endWhenSettled, parseFailed, startOperation, startResolver, validationFailed } from './spans';
import { subscribeChannels, type Unsubscribe } from './channels';

export interface GraphqlConfig extends InstrumentationConfig {
  resolverSpans?: boolean;
}

/** Versions patched through their files; 17 is seen through its channels. */
const PATCHED = ['>=15.0.0 <17'];
export const SUPPORTED = ['>=15.0.0 <18'];

/** Set in the context of a traced operation whose resolvers get spans. */
const OPERATION = createContextKey('@x/otel-agent/graphql operation');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyFn = (this: any, ...args: any[]) => any;
interface FieldLike {
  name: string;
  resolve?: AnyFn;
  type?: unknown;
}
interface SchemaLike {
  getTypeMap?: () => Record<string, { name: string; getFields?: () => Record<string, FieldLike> }>;
}
const WRAPPED = Symbol('@x/otel-agent/graphql resolver');

export class GraphqlInstrumentation extends InstrumentationBase<GraphqlConfig> {
  private unsubscribe: Unsubscribe | undefined;
  private readonly wrappedSchemas = new WeakSet<object>();

  constructor(config: GraphqlConfig = {}) {
    super('@x/otel-agent/graphql', AGENT_VERSION, config);
  }

  protected init() {
    return [
      new InstrumentationNodeModuleDefinition('graphql', SUPPORTED, undefined, undefined, [
        new InstrumentationNodeModuleFile(
          'graphql/execution/execute.js',
          PATCHED,
          (m: Record<string, AnyFn>) => {
            if (typeof m.execute === 'function') this._wrap(m, 'execute', (orig: AnyFn) => this.wrapExecute(orig));
            return m;
          },
          (m: Record<string, AnyFn>) => this._unwrap(m, 'execute'),
        ),
        new InstrumentationNodeModuleFile(
          'graphql/language/parser.js',
          PATCHED,
          (m: Record<string, AnyFn>) => {
            if (typeof m.parse === 'function') this._wrap(m, 'parse', (orig: AnyFn) => this.wrapParse(orig));
            return m;
          },
          (m: Record<string, AnyFn>) => this._unwrap(m, 'parse'),
        ),
        new InstrumentationNodeModuleFile(
          'graphql/validation/validate.js',
          PATCHED,
          (m: Record<string, AnyFn>) => {
            if (typeof m.validate === 'function') this._wrap(m, 'validate', (orig: AnyFn) => this.wrapValidate(orig));
            return m;
          },
          (m: Record<string, AnyFn>) => this._unwrap(m, 'validate'),
        ),
      ]),
    ];
  }

  override enable(): void {
    super.enable();
    // The base constructor enables before this class's fields exist; channels are subscribed once.
    if (this.unsubscribe === undefined) this.unsubscribe = subscribeChannels(() => this.tracer, this.getConfig().resolverSpans === true);
  }

  override disable(): void {
    super.disable();
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  private wrapExecute(orig: AnyFn): AnyFn {
    const inst = this;
    return function execute(this: unknown, ...args: unknown[]) {
      if (!inst.isEnabled()) return orig.apply(this, args);
      // graphql 15 also takes positional arguments: (schema, document, rootValue, contextValue, variableValues, operationName, ...).
      const a = args[0] as { document?: unknown; operationName?: unknown; schema?: unknown } | undefined;
      const named = args.length === 1 && a !== null && typeof a === 'object' && 'document' in a;
      const doc = named ? a.document : args[1];
      const operationName = named ? a.operationName : args[5];
      const parent = context.active();
      const span = startOperation(inst.tracer, parent, doc, operationName);
      // Unsampled: nothing to name, time or nest (its children would be unsampled too).
      if (!span.isRecording()) return orig.apply(this, args);
      let ctx: Context = trace.setSpan(parent, span);
      if (inst.getConfig().resolverSpans) {
        inst.wrapResolvers(named ? a.schema : args[0]);
        ctx = ctx.setValue(OPERATION, true);
      }
      let result: unknown;
      try {
        result = context.with(ctx, () => orig.apply(this, args));
      } catch (e) {
        endOperation(span, undefined, e);
        throw e;
      }
      return endWhenSettled(span, result);
    };
  }

  private wrapParse(orig: AnyFn): AnyFn {
    const inst = this;
    return function parse(this: unknown, ...args: unknown[]) {
      try {
        return orig.apply(this, args);
      } catch (e) {
        if (inst.isEnabled()) parseFailed(inst.tracer, context.active(), e);
        throw e;
      }
    };
  }

  private wrapValidate(orig: AnyFn): AnyFn {
    const inst = this;
    return function validate(this: unknown, ...args: unknown[]) {
      const errors = orig.apply(this, args) as unknown;
      if (inst.isEnabled()) validationFailed(inst.tracer, context.active(), args[1], errors);
      return errors;
    };
  }

  /** Wraps each resolver the schema defines, once per schema; a wrapper outside a traced operation only calls through. */
  private wrapResolvers(schema: unknown): void {
    const s = schema as SchemaLike | null | undefined;
    if (!s || typeof s.getTypeMap !== 'function' || this.wrappedSchemas.has(s)) return;
    this.wrappedSchemas.add(s);
    const tracer = () => this.tracer;
    for (const t of Object.values(s.getTypeMap())) {
      if (t.name.startsWith('__') || typeof t.getFields !== 'function') continue;
      let fields: Record<string, FieldLike>;
      try {
        fields = t.getFields();
      } catch {
        continue;
      }
      for (const f of Object.values(fields)) {
        const orig = f.resolve;
        if (typeof orig !== 'function' || (orig as { [WRAPPED]?: true })[WRAPPED]) continue;
        const typeName = t.name;
        const resolve = function (this: unknown, ...args: unknown[]) {
          const parent = context.active();
          if (parent.getValue(OPERATION) !== true) return orig.apply(this, args);
          const info = args[3] as { path?: Path; returnType?: unknown } | undefined;
          const span = startResolver(tracer(), parent, typeName, f.name, () => pathString(info?.path), String(info?.returnType ?? f.type ?? ''));
          let r: unknown;
          try {
            r = context.with(trace.setSpan(parent, span), () => orig.apply(this, args));
          } catch (e) {
            endResolver(span, e);
            throw e;
          }
          if (typeof (r as { then?: unknown } | null)?.then === 'function')
            (r as PromiseLike<unknown>).then(
              () => endResolver(span),
              (e: unknown) => endResolver(span, e ?? new Error('rejected')),
            );
          else endResolver(span);
          return r;
        };
        (resolve as { [WRAPPED]?: true })[WRAPPED] = true;
        f.resolve = resolve;
      }
    }
  }
}

interface Path {
  prev?: Path;
  key: string | number;
}

function pathString(p: Path | undefined): string {
  const parts: (string | number)[] = [];
  for (let x = p; x; x = x.prev) parts.push(x.key);
  return parts.reverse().join('.');
}
