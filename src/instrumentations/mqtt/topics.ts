/**
 * Which of the client's subscriptions a received MQTT message came through,
 * for the messaging metrics only (spans keep the topic itself). A topic such
 * as `devices/42/telemetry` has the cardinality of the app's devices; the
 * filter `devices/+/telemetry` it was subscribed with does not. So a message
 * matching a wildcard filter counts under `messaging.destination.template`,
 * one matching an exact filter (or none the agent saw) under
 * `messaging.destination.name`, and a shared subscription
 * (`$share/<group>/<filter>`) adds `messaging.consumer.group.name`.
 *
 * The filters are read from the app's own subscribe() / unsubscribe() calls,
 * per client; nothing is read from MQTT.js's internals.
 */
import type { Attributes } from '@opentelemetry/api';
import { CONSUMER_GROUP, DESTINATION, DESTINATION_TEMPLATE } from '../messaging/common';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyFn = (this: any, ...args: any[]) => any;

interface Filter {
  /** The filter without a `$share/<group>/` prefix. */
  filter: string;
  levels: string[];
  wildcard: boolean;
  group: string | undefined;
}

/** Topics remembered per client, so a busy topic is matched once (bounded: topics may be endless). */
const CACHE_MAX = 256;

function parse(raw: string): Filter {
  let filter = raw;
  let group: string | undefined;
  const m = /^\$share\/([^/]+)\/(.+)$/.exec(raw);
  if (m) {
    group = m[1];
    filter = m[2]!;
  }
  const levels = filter.split('/');
  return { filter, levels, wildcard: levels.some((l) => l === '+' || l === '#'), group };
}

/** MQTT topic matching: `+` is one level, a trailing `#` any number (zero included); `$` topics match no leading wildcard. */
export function matches(levels: readonly string[], topic: string): boolean {
  const t = topic.split('/');
  const system = topic.charCodeAt(0) === 36; /* $ */
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i];
    if (l === '#') return !(i === 0 && system);
    if (i >= t.length) return false;
    if (l === '+') {
      if (i === 0 && system) return false;
      continue;
    }
    if (l !== t[i]) return false;
  }
  return levels.length === t.length;
}

function topicsOf(arg: unknown): string[] {
  if (typeof arg === 'string') return [arg];
  if (Array.isArray(arg)) return arg.filter((t): t is string => typeof t === 'string');
  if (arg && typeof arg === 'object') return Object.keys(arg);
  return [];
}

interface ClientState {
  filters: Map<string, Filter>;
  cache: Map<string, Attributes>;
}

export class Subscriptions {
  private readonly clients = new WeakMap<object, ClientState>();

  private state(client: object): ClientState {
    let s = this.clients.get(client);
    if (!s) {
      s = { filters: new Map(), cache: new Map() };
      this.clients.set(client, s);
    }
    return s;
  }

  private change(client: unknown, topics: unknown, add: boolean): void {
    if (!client || typeof client !== 'object') return;
    const s = this.state(client);
    for (const t of topicsOf(topics)) {
      if (add) s.filters.set(t, parse(t));
      else s.filters.delete(t);
    }
    s.cache.clear();
  }

  wrapSubscribe(orig: AnyFn): AnyFn {
    const subs = this;
    return function subscribe(this: unknown, topics: unknown, ...rest: unknown[]): unknown {
      try {
        subs.change(this, topics, true);
      } catch {
        /* an unexpected argument: the metrics fall back to the topic */
      }
      return orig.call(this, topics, ...rest);
    };
  }

  wrapUnsubscribe(orig: AnyFn): AnyFn {
    const subs = this;
    return function unsubscribe(this: unknown, topics: unknown, ...rest: unknown[]): unknown {
      try {
        subs.change(this, topics, false);
      } catch {
        /* as above */
      }
      return orig.call(this, topics, ...rest);
    };
  }

  /** The destination attributes of a message on `topic` received by `client`. */
  destination(client: object, topic: string): Attributes {
    const s = this.clients.get(client);
    if (!s) return { [DESTINATION]: topic };
    const hit = s.cache.get(topic);
    if (hit) return hit;
    let exact: Filter | undefined;
    let wild: Filter | undefined;
    for (const f of s.filters.values()) {
      if (!f.wildcard) {
        if (f.filter === topic) exact ??= f;
      } else if (!wild && matches(f.levels, topic)) wild = f;
    }
    // An exact subscription names the topic (low cardinality by construction); else the wildcard filter is the template.
    const f = exact ?? wild;
    const a: Attributes = f && f.wildcard ? { [DESTINATION_TEMPLATE]: f.filter } : { [DESTINATION]: topic };
    if (f?.group) a[CONSUMER_GROUP] = f.group;
    if (s.cache.size < CACHE_MAX) s.cache.set(topic, a);
    return a;
  }
}
