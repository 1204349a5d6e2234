/**
 * Raw UTF-8 in incoming baggage used to be forwarded double-encoded
 * (`Zürich` as raw bytes came back as `Z%C3%83%C2%BCrich`), and re-encoding
 * changed percent-encoded values too (`a+b` -> `a%2Bb`). Baggage a service
 * only passes on now leaves byte for byte as it came, on fetch() and on
 * http.request(), in the W3C header and in Jaeger's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VARIANTS } from '../harness/fixture';
import { startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { invalidLines, runRelay, startRecorder, utf8Bytes, type Recorder } from './wire';

let rx: OtlpReceiver;
let down: Recorder;
beforeAll(async () => {
  rx = await startOtlpReceiver();
  down = await startRecorder();
});
afterAll(async () => {
  await down.close();
  await rx.close();
});

const RAW = `user=${utf8Bytes('José')},city=${utf8Bytes('Zürich')}`;
const ENCODED = 'dish=caf%C3%A9,expr=a+b,path=%2Forders%2F7,lower=%c3%a9,flag=on;ttl=60';

describe.each(VARIANTS)('baggage is forwarded byte-exact (%s)', (ext) => {
  it('raw UTF-8 in, the same bytes out; percent-encoded in, the same escapes out (tracecontext,baggage)', async () => {
    const service = `bytes-${ext}`;
    const run = await runRelay(rx, down, { ext, service, propagators: 'tracecontext,baggage' }, [
      { tag: 'raw', headers: [['baggage', RAW]] },
      { tag: 'encoded', headers: [['baggage', ENCODED]] },
    ]);
    expect(run.code, run.stderr).toBe(0);
    for (const [tag, sent] of [
      ['raw', RAW],
      ['encoded', ENCODED],
    ] as const) {
      const out = run.out(tag);
      for (const s of [out.fetch, out.http]) {
        expect(invalidLines(s)).toEqual([]);
        // Compared as latin1 strings: one char per byte on the wire.
        expect(s.headers.baggage, `${tag} ${s.path}`).toBe(sent);
      }
    }
  });

  it('the same bytes reach Jaeger baggage headers (tracecontext,baggage,jaeger)', async () => {
    const service = `bytes-jaeger-${ext}`;
    const run = await runRelay(rx, down, { ext, service, propagators: 'tracecontext,baggage,jaeger' }, [
      { tag: 'raw', headers: [['baggage', RAW]] },
      // As a Jaeger client sends it: its trace header and the baggage header.
      {
        tag: 'uberctx',
        headers: [
          ['uber-trace-id', '4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1'],
          ['uberctx-city', utf8Bytes('Zürich')],
        ],
      },
    ]);
    expect(run.code, run.stderr).toBe(0);
    const raw = run.out('raw');
    for (const s of [raw.fetch, raw.http]) {
      expect(s.headers.baggage).toBe(RAW);
      expect(s.headers['uberctx-user']).toBe(utf8Bytes('José'));
      expect(s.headers['uberctx-city']).toBe(utf8Bytes('Zürich'));
    }
    const jaeger = run.out('uberctx');
    for (const s of [jaeger.fetch, jaeger.http]) {
      expect(s.headers['uberctx-city']).toBe(utf8Bytes('Zürich'));
      expect(s.headers.baggage).toBe(`city=${utf8Bytes('Zürich')}`);
    }
  });
});
