/**
 * HTTP upgrades (WebSocket: `ws`, socket.io): a server's 'upgrade' event gets
 * a SERVER span like a request does, continuing the client's traceparent, and
 * its listeners run in that span's context, so the connection's first work
 * (ws's 'connection' handler) belongs to the trace of the page that opened it.
 *
 * There is no ServerResponse: the app answers on the raw socket, writing
 * `HTTP/1.1 101 Switching Protocols` (or a refusal, `HTTP/1.1 400 ...`, often
 * through socket.end()). So for a sampled upgrade only, the socket's write and
 * end get an own wrapper that reads the status line of the first write and
 * then removes itself; the socket closing before any answer ends the span
 * without a status. Upgrades are one per connection, not per message, so this
 * per-upgrade work is cheap next to a request's.
 */
import type * as httpT from 'node:http';
import type { Socket } from 'node:net';
import { context, type Context } from '@opentelemetry/api';
import { contextStore } from './context-store';

/** What instrumentation.ts provides: start a SERVER span for an upgrade request, and end it with the answer's status. */
export interface UpgradeHost<X> {
  startUpgrade(req: httpT.IncomingMessage): { ctx: Context; ex?: X };
  endUpgrade(ex: X, status: number | undefined): void;
  fail(where: string, e: unknown): void;
}

type Emit = (this: unknown, event: string | symbol, ...args: unknown[]) => boolean;

/** Server.emit('upgrade', req, socket, head) under the agent. */
export function emitUpgrade<X>(host: UpgradeHost<X>, original: Emit, self: unknown, args: IArguments): boolean {
  const req = args[1] as httpT.IncomingMessage;
  const socket = args[2] as Socket;
  let ctx: Context;
  try {
    const started = host.startUpgrade(req);
    ctx = started.ctx;
    if (started.ex !== undefined) watchAnswer(host, started.ex, socket);
  } catch (e) {
    host.fail("Server.emit('upgrade')", e);
    return original.apply(self, args as unknown as Parameters<Emit>);
  }
  // As for 'request' (instrumentation.ts incoming()): the context entered directly, no frames of context.with.
  const store = contextStore();
  if (store === undefined) return context.with(ctx, () => original.apply(self, args as unknown as Parameters<Emit>));
  const prior = store.getStore();
  store.enterWith(ctx);
  try {
    return original.apply(self, args as unknown as Parameters<Emit>);
  } finally {
    store.enterWith(prior);
  }
}

/** `HTTP/1.1 101 ...` -> 101, from the first bytes the app writes on the socket. */
export function statusLine(chunk: unknown): number | undefined {
  let head: string;
  if (typeof chunk === 'string') head = chunk.slice(0, 16);
  else if (chunk instanceof Uint8Array) head = Buffer.from(chunk.buffer, chunk.byteOffset, Math.min(chunk.byteLength, 16)).toString('latin1');
  else return undefined;
  const m = /^HTTP\/\d(?:\.\d)? (\d{3})/.exec(head);
  return m ? Number(m[1]) : undefined;
}

function watchAnswer<X>(host: UpgradeHost<X>, ex: X, socket: Socket): void {
  if (socket === null || typeof socket !== 'object' || typeof socket.write !== 'function') return;
  const s = socket as unknown as Record<string, unknown>;
  const own = { write: Object.prototype.hasOwnProperty.call(s, 'write'), end: Object.prototype.hasOwnProperty.call(s, 'end') };
  const write = s.write;
  const end = s.end;
  let open = true;
  const finish = (status: number | undefined): void => {
    if (!open) return;
    open = false;
    // Put the socket back as it was: whatever the app does with it afterwards is untouched.
    if (s.write === wrappedWrite) {
      if (own.write) s.write = write;
      else delete s.write;
    }
    if (s.end === wrappedEnd) {
      if (own.end) s.end = end;
      else delete s.end;
    }
    try {
      host.endUpgrade(ex, status);
    } catch (e) {
      host.fail('http upgrade', e);
    }
  };
  const seen = (chunk: unknown): void => {
    if (!open) return;
    try {
      finish(statusLine(chunk));
    } catch (e) {
      host.fail('http upgrade', e);
    }
  };
  const wrappedWrite = function (this: unknown, chunk: unknown) {
    seen(chunk);
    return (write as (...a: unknown[]) => unknown).apply(this, arguments as unknown as unknown[]);
  };
  const wrappedEnd = function (this: unknown, chunk: unknown) {
    if (typeof chunk !== 'function' && chunk !== undefined && chunk !== null) seen(chunk);
    else finish(undefined);
    return (end as (...a: unknown[]) => unknown).apply(this, arguments as unknown as unknown[]);
  };
  s.write = wrappedWrite;
  s.end = wrappedEnd;
  socket.once('close', () => finish(undefined));
}
