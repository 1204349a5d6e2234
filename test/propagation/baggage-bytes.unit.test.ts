/**
 * W3C baggage between the wire and the API (src/propagation/w3c-baggage.ts),
 * in process: what an app reads with the baggage API, and what goes out when
 * it passes baggage on unchanged, changes an entry or adds one.
 */
import { describe, expect, it } from 'vitest';
import { defaultTextMapGetter, defaultTextMapSetter, propagation, ROOT_CONTEXT, type Context } from '@opentelemetry/api';
import { buildPropagator } from '../../src/propagators';
import { utf8Bytes } from './wire';

const p = buildPropagator(['baggage']);
const read = (baggage: string | string[]): Context => p.extract(ROOT_CONTEXT, { baggage }, defaultTextMapGetter);
const write = (ctx: Context): string | undefined => {
  const out: Record<string, string> = {};
  p.inject(ctx, out, defaultTextMapSetter);
  return out.baggage;
};
const value = (ctx: Context, k: string): string | undefined => propagation.getBaggage(ctx)?.getEntry(k)?.value;

describe('W3C baggage: values as the app reads them, bytes as they go out', () => {
  it('raw UTF-8 and its percent-encoding read as the same text', () => {
    expect(value(read(`city=${utf8Bytes('Zürich')}`), 'city')).toBe('Zürich');
    expect(value(read('city=Z%C3%BCrich'), 'city')).toBe('Zürich');
    expect(value(read('city=Z%c3%bcrich'), 'city')).toBe('Zürich');
    // Invalid UTF-8 becomes U+FFFD (W3C baggage), an invalid escape stays as written.
    expect(value(read('k=%FF'), 'k')).toBe('\ufffd');
    expect(value(read('k=100%'), 'k')).toBe('100%');
    // A raw `à` ends in byte 0xA0, which String#trim would have taken for a space.
    expect(value(read(`k=${utf8Bytes('voilà')}`), 'k')).toBe('voilà');
  });

  it('passed on unchanged: exactly the text that came in, member by member', () => {
    for (const h of [`city=${utf8Bytes('Zürich')}`, 'k=a+b', 'k=%2F', 'k=%c3%a9', 'k=v;ttl=60;p', 'a%20b=1', `k=${utf8Bytes('voilà')}`])
      expect(write(read(h))).toBe(h);
    // Optional whitespace and repeated headers are normalised, the members are not.
    expect(write(read(['a=1 ,  b=%2F', 'c=3']))).toBe('a=1,b=%2F,c=3');
  });

  it('entries the app adds or changes are encoded fresh; the others keep their bytes', () => {
    const ctx = read(`city=${utf8Bytes('Zürich')},k=a+b`);
    const bag = propagation.getBaggage(ctx)!.setEntry('k', { value: 'changed value' }).setEntry('new', { value: 'é,;' });
    expect(write(propagation.setBaggage(ctx, bag))).toBe(`city=${utf8Bytes('Zürich')},k=changed%20value,new=%C3%A9%2C%3B`);
  });

  it('members that are not baggage are skipped one by one', () => {
    const ctx = read('ok=1,=nokey,novalue,bad key=2,k=v\u0001,also=2');
    expect(
      Object.fromEntries(
        propagation
          .getBaggage(ctx)!
          .getAllEntries()
          .map(([k, e]) => [k, e.value]),
      ),
    ).toEqual({ ok: '1', also: '2' });
  });
});
