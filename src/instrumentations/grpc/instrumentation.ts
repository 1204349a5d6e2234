/**
 * @grpc/grpc-js: CLIENT spans (client.ts) and SERVER spans (server.ts) for
 * unary, client-streaming, server-streaming and bidi calls, named
 * `package.Service/Method`, with the RPC semantic conventions (attributes.ts)
 * and the context carried in the call's metadata by whatever OTEL_PROPAGATORS
 * names (through the agent's guarded propagator, like every injection).
 *
 * With metrics on, every call (sampled or not) is also one record in
 * rpc.server.call.duration / rpc.client.call.duration (metrics.ts).
 *
 * grpc-js runs over node:http2; the http2 instrumentation leaves gRPC streams
 * (content-type application/grpc) alone, so a call is one span, not two, and
 * is never counted in http.*.request.duration.
 *
 * The agent's own OTLP/gRPC exporter uses the copy of grpc-js bundled in
 * dist/vendor/grpc.cjs, which is never loaded as `@grpc/grpc-js` and so is
 * never patched; its exports also run with tracing suppressed.
 */
import {
  InstrumentationBase,
  InstrumentationNodeModuleDefinition,
  InstrumentationNodeModuleFile,
  isWrapped,
  type InstrumentationConfig,
} from '@opentelemetry/instrumentation';
import { AGENT_VERSION } from '../../version';
import { wrapMakeRequest, type CallType } from './client';
import { RpcDuration } from './metrics';
import { wrapHandler } from './server';

export interface GrpcConfig extends InstrumentationConfig {
  /** Record rpc.{server,client}.call.duration (only worth their cost when a metrics exporter is set). */
  metrics?: boolean;
}

type AnyFn = (this: unknown, ...args: unknown[]) => unknown;

type MetadataCtor = new () => { set(k: string, v: string): void; clone(): never };

interface GrpcModule {
  Client?: { prototype: Record<string, unknown> };
  Server?: { prototype: Record<string, unknown> };
  Metadata?: MetadataCtor;
  default?: GrpcModule;
  [Symbol.toStringTag]?: string;
}

const CLIENT_METHODS: [string, CallType][] = [
  ['makeUnaryRequest', 'unary'],
  ['makeClientStreamRequest', 'clientStream'],
  ['makeServerStreamRequest', 'serverStream'],
  ['makeBidiStreamRequest', 'bidi'],
];

const TYPES = new Set<string>(['unary', 'clientStream', 'serverStream', 'bidi']);

export class GrpcInstrumentation extends InstrumentationBase<GrpcConfig> {
  readonly selfContained = true;
  private failed = false;
  private duration: RpcDuration | undefined;

  constructor(config: GrpcConfig = {}) {
    super('@x/otel-agent/grpc', AGENT_VERSION, config);
    // The base constructor already called this, before this class's fields were initialised.
    this._updateMetricInstruments();
  }

  protected override _updateMetricInstruments(): void {
    if (this.getConfig().metrics) this.duration = new RpcDuration(this.meter);
  }

  /** Metadata of the grpc-js copy being loaded (its metadata.js loads before its client.js). */
  private loadingMetadata: MetadataCtor | undefined;

  /**
   * The Client methods are patched in build/src/client.js, as soon as that file
   * is loaded: make-client.js (what loadPackageDefinition and generated stubs
   * build their clients with) copies references to them when it loads, still
   * inside grpc-js' index.js, so a patch of the finished module would come too
   * late for every generated client.
   */
  protected init() {
    const versions = ['^1.0.0'];
    return [
      new InstrumentationNodeModuleDefinition(
        '@grpc/grpc-js',
        versions,
        (m: GrpcModule) => this.patch(m),
        (m: GrpcModule) => this.unpatch(m),
        [
          new InstrumentationNodeModuleFile(
            '@grpc/grpc-js/build/src/metadata.js',
            versions,
            (m: GrpcModule) => {
              if (typeof m.Metadata === 'function') this.loadingMetadata = m.Metadata;
              return m;
            },
            () => {},
          ),
          new InstrumentationNodeModuleFile(
            '@grpc/grpc-js/build/src/client.js',
            versions,
            (m: GrpcModule) => {
              const Metadata = this.loadingMetadata;
              if (m.Client && Metadata) this.patchClient(m.Client.prototype, Metadata);
              return m;
            },
            (m: GrpcModule) => this.unpatch(m),
          ),
        ],
      ),
    ];
  }

  private fail(where: string, e: unknown): void {
    if (this.failed) return;
    this.failed = true;
    const why = (e instanceof Error ? `${e.name}: ${e.message}` : String(e)).slice(0, 300);
    this._diag.warn(
      `instrumentation "grpc" threw inside ${where} (${why}); the call went on without it, and "grpc" is switched off for the rest of this process`,
    );
    try {
      this.disable();
    } catch {
      /* its wrappers check isEnabled() and pass calls straight through */
    }
  }

  private hooks() {
    return {
      tracer: () => this.tracer,
      duration: () => this.duration,
      enabled: () => this.isEnabled(),
      fail: (w: string, e: unknown) => this.fail(w, e),
    };
  }

  private patch(m: GrpcModule): GrpcModule {
    const mod = m[Symbol.toStringTag] === 'Module' && m.default ? m.default : m;
    const client = mod.Client?.prototype;
    const server = mod.Server?.prototype;
    const Metadata = mod.Metadata;
    if (!client || !server || typeof Metadata !== 'function') {
      this._diag.warn('grpc: Client, Server or Metadata not found on @grpc/grpc-js; this @grpc/grpc-js is not traced');
      return m;
    }
    // Already done in client.js unless that file was not seen (a bundled grpc-js).
    this.patchClient(client, Metadata);
    const hooks = this.hooks();
    if (typeof server.register === 'function' && !isWrapped(server.register)) {
      this._wrap(
        server as Record<string, AnyFn>,
        'register',
        (original: AnyFn) =>
          function register(this: unknown, name: unknown, handler: unknown, serialize: unknown, deserialize: unknown, type: unknown) {
            if (typeof handler === 'function' && typeof name === 'string' && typeof type === 'string' && TYPES.has(type)) {
              const args = Array.prototype.slice.call(arguments) as unknown[];
              args[1] = wrapHandler(handler as AnyFn, name, type as CallType, hooks);
              return original.apply(this, args);
            }
            return original.call(this, name, handler, serialize, deserialize, type);
          },
      );
    }
    return m;
  }

  private patchClient(client: Record<string, unknown>, Metadata: MetadataCtor): void {
    const hooks = this.hooks();
    for (const [k, type] of CLIENT_METHODS) {
      if (typeof client[k] === 'function' && !isWrapped(client[k])) {
        this._wrap(client as Record<string, AnyFn>, k, (original: AnyFn) => wrapMakeRequest(original, type, Metadata, hooks));
      }
    }
  }

  private unpatch(m: GrpcModule): void {
    const mod = m[Symbol.toStringTag] === 'Module' && m.default ? m.default : m;
    const client = mod.Client?.prototype as Record<string, AnyFn> | undefined;
    if (client) for (const [k] of CLIENT_METHODS) if (isWrapped(client[k])) this._unwrap(client, k);
    const server = mod.Server?.prototype as Record<string, AnyFn> | undefined;
    if (server && isWrapped(server.register)) this._unwrap(server, 'register');
  }
}
