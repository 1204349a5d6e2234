/**
 * graphql-js: one span per operation (`query GetUser`), literals hidden in
 * graphql.document, failed parses and validations recorded, resolver spans
 * only when switched on. graphql 15 and 16 are patched, 17 is seen through
 * its diagnostics channels: every version in both module systems. Through
 * Apollo Server over HTTP the operation span is a child of the SERVER span.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, ROOT, runFixture, startFixture, VARIANTS } from '../../harness/fixture';
import { childrenOf, one, startOtlpReceiver, type OtlpReceiver, type RecvSpan } from '../../harness/otlp-receiver';
import { leaks, send, spansOf } from '../../http/helpers';
import { appDir, doctor } from '../../doctor/run-doctor';

/** The repo's node_modules folders holding each major (15 and 17 as npm aliases). */
const VERSIONS = { 15: 'graphql15', 16: 'graphql', 17: 'graphql17' } as const;

let rx: OtlpReceiver;
let work: string;
beforeAll(async () => {
  rx = await startOtlpReceiver();
  work = mkdtempSync(join(tmpdir(), 'otel-graphql-'));
  // One app folder per major: the fixture next to a node_modules/graphql of that version, as a user has it.
  for (const [major, dir] of Object.entries(VERSIONS)) {
    cpSync(join(ROOT, 'node_modules', dir), join(work, major, 'node_modules/graphql'), { recursive: true });
    for (const ext of VARIANTS) cpSync(join(FIXTURES, `frameworks/graphql/plain.${ext}`), join(work, major, `plain.${ext}`));
  }
});
afterAll(async () => {
  await rx.close();
  rmSync(work, { recursive: true, force: true });
});

async function plain(major: string, ext: string, service: string, env: Record<string, string> = {}): Promise<RecvSpan[]> {
  const r = await runFixture({
    fixture: join(work, major, `plain.${ext}`),
    mode: ext === 'cjs' ? 'require' : 'import',
    endpoint: rx.url,
    env: { OTEL_SERVICE_NAME: service, ...env },
  });
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).toBe('');
  // The app got its results unchanged: the resolver error is in the result, the parse error too.
  expect(r.stdout).toContain('"upper":"ALICE"');
  expect(r.stdout).toContain('resolver failed');
  expect(r.stdout).toContain('Syntax Error');
  return spansOf(rx, service);
}

const exceptions = (s: RecvSpan) => s.events.filter((e) => e.name === 'exception');

describe.each(Object.keys(VERSIONS).flatMap((major) => VARIANTS.map((ext) => [major, ext] as const)))('graphql %s (%s)', (major, ext) => {
  it('makes one span per operation, named by type and name, with the document and no literal or variable value', async () => {
    const spans = await plain(major, ext, `gql-${major}-${ext}`);
    const gql = spans.filter((s) => s.scope.name === '@x/otel-agent/graphql');
    expect(gql.map((s) => s.name).sort()).toEqual(['GraphQL Operation', 'mutation AddUser', 'query', 'query Bad', 'query Boom', 'query GetUser', 'query List']);
    expect(gql.every((s) => s.kind === 'INTERNAL' && s.parentSpanId === '')).toBe(true);

    const get = one(gql, 'query GetUser');
    expect(get.status.code).toBe('UNSET');
    expect(get.attributes).toEqual({
      'graphql.operation.type': 'query',
      'graphql.operation.name': 'GetUser',
      'graphql.document': 'query GetUser($id: ID!) { user(id: $id) { id name upper } }',
    });
    // The resolver's work is under the operation (no resolver spans by default).
    expect(childrenOf(spans, get).map((s) => s.name)).toEqual(['fs readFileSync']);

    expect(one(gql, 'query').attributes).toEqual({ 'graphql.operation.type': 'query', 'graphql.document': 'query { user(id: ?) { name } }' });
    expect(one(gql, 'mutation AddUser').attributes['graphql.document']).toBe('mutation AddUser { addUser(name: ?, age: ?) { id } }');
    // A literal no stack line or column number can contain (an age of 42 matched `agent.cjs:4230`).
    for (const marker of ['alice', 'acme', 'bob', '97531']) expect(leaks(gql, marker), marker).toEqual([]);
  });

  it('records parse errors, validation errors and resolver errors on the operation span', async () => {
    const spans = (await plain(major, ext, `gql-err-${major}-${ext}`)).filter((s) => s.scope.name === '@x/otel-agent/graphql');
    const parse = one(spans, 'GraphQL Operation');
    expect(parse.status).toMatchObject({ code: 'ERROR', message: expect.stringContaining('Syntax Error') });
    expect(parse.attributes).toEqual({ 'error.type': 'GraphQLError' });
    expect(exceptions(parse)).toHaveLength(1);

    const bad = one(spans, 'query Bad');
    expect(bad.status).toMatchObject({ code: 'ERROR', message: expect.stringContaining('Cannot query field "nope"') });
    expect(bad.attributes).toMatchObject({ 'graphql.operation.name': 'Bad', 'error.type': 'GraphQLError' });
    expect(exceptions(bad)).toHaveLength(1);

    const boom = one(spans, 'query Boom');
    expect(boom.status).toMatchObject({ code: 'ERROR', message: 'resolver failed' });
    expect(exceptions(boom)).toHaveLength(1);
    expect(exceptions(boom)[0]!.attributes['exception.message']).toBe('resolver failed');

    expect(one(spans, 'query GetUser').status.code).toBe('UNSET');
  });

  it('makes a span per schema-defined resolver with OTEL_AGENT_GRAPHQL_RESOLVER_SPANS=true, none for default resolvers', async () => {
    const spans = await plain(major, ext, `gql-res-${major}-${ext}`, { OTEL_AGENT_GRAPHQL_RESOLVER_SPANS: 'true' });
    const get = one(spans, 'query GetUser');
    const kids = childrenOf(spans, get);
    // `id` and `name` are property reads: no span.
    expect(kids.map((s) => s.name).sort()).toEqual(['Query.user', 'User.upper']);
    const user = kids.find((s) => s.name === 'Query.user')!;
    expect(user.attributes).toEqual({ 'graphql.field.name': 'user', 'graphql.field.path': 'user', 'graphql.field.type': 'User' });
    expect(childrenOf(spans, user).map((s) => s.name)).toEqual(['fs readFileSync']);
    expect(kids.find((s) => s.name === 'User.upper')!.attributes['graphql.field.path']).toBe('user.upper');

    const list = childrenOf(spans, one(spans, 'query List'));
    expect(list.map((s) => s.name).sort()).toEqual(['Query.users', 'User.upper', 'User.upper']);
    expect(list.map((s) => s.attributes['graphql.field.path']).sort()).toEqual(['users', 'users.0.upper', 'users.1.upper']);

    const boom = one(childrenOf(spans, one(spans, 'query Boom')), 'Query.boom');
    expect(boom.status).toMatchObject({ code: 'ERROR', message: 'resolver failed' });
  });
});

describe.each(VARIANTS)('graphql switched off (%s)', (ext) => {
  it('makes no graphql span with OTEL_NODE_DISABLED_INSTRUMENTATIONS=graphql, and the app runs the same', async () => {
    const spans = await plain('16', ext, `gql-off-${ext}`, { OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'graphql' });
    expect(spans.filter((s) => s.scope.name === '@x/otel-agent/graphql')).toEqual([]);
  });
});

describe.each(['16', '17'])('graphql %s unsampled', (major) => {
  it('runs every operation the same and exports nothing with OTEL_TRACES_SAMPLER=always_off', async () => {
    const spans = await plain(major, 'cjs', `gql-unsampled-${major}`, { OTEL_TRACES_SAMPLER: 'always_off', OTEL_AGENT_GRAPHQL_RESOLVER_SPANS: 'true' });
    expect(spans).toEqual([]);
  });
});

describe.each(VARIANTS)('graphql under Apollo Server over HTTP (%s)', (ext) => {
  it('puts the operation span under the SERVER span, which gains nothing from the query text', async () => {
    const service = `gql-apollo-${ext}`;
    const f = startFixture({
      fixture: `frameworks/graphql/apollo.${ext}`,
      mode: ext === 'cjs' ? 'require' : 'import',
      endpoint: rx.url,
      env: { OTEL_SERVICE_NAME: service },
    });
    const port = Number((await f.ready).split(' ')[1]);
    const post = (body: unknown) =>
      send(`http://127.0.0.1:${port}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    try {
      const ok = await post({ query: 'query GetUser($id: ID!) { user(id: $id, org: "acme") { id name } }', variables: { id: 'alice' } });
      expect(ok.body).toContain('ALICE');
      const boom = await post({ query: '{ boom }' });
      expect(boom.body).toContain('resolver failed');
    } finally {
      f.child.kill('SIGTERM');
    }
    const r = await f.result;
    expect(r.code, r.stderr).toBe(0);
    const spans = spansOf(rx, service);
    const servers = spans.filter((s) => s.kind === 'SERVER');
    expect(servers.map((s) => s.name)).toEqual(['POST /graphql', 'POST /graphql']);
    for (const s of servers) expect(Object.keys(s.attributes).filter((k) => k.startsWith('graphql.'))).toEqual([]);

    const get = one(spans, 'query GetUser');
    const server = servers.find((s) => s.spanId === get.parentSpanId)!;
    expect(server, 'the operation span is a child of a SERVER span').toBeDefined();
    expect(get.traceId).toBe(server.traceId);
    expect(get.attributes['graphql.document']).toBe('query GetUser($id: ID!) { user(id: $id, org: ?) { id name } }');
    expect(childrenOf(spans, get).map((s) => s.name)).toEqual(['fs readFileSync']);

    const anon = one(spans, 'query');
    expect(servers.some((s) => s.spanId === anon.parentSpanId)).toBe(true);
    expect(anon.status.code).toBe('ERROR');
    for (const marker of ['alice', 'acme']) expect(leaks(spans, marker), marker).toEqual([]);
  });
});

describe('doctor and graphql', () => {
  it.each([
    ['16.15.0', 'supported'],
    ['17.1.0', 'supported'],
    ['14.7.0', 'unsupported'],
  ])('lists graphql %s as %s', async (version, status) => {
    const app = appDir({ dependencies: { graphql: `^${version}` }, fake: { graphql: { version, main: 'module.exports = {};' } } });
    try {
      const r = await doctor(['--json'], { cwd: app.dir });
      const g = r.json!.packages.instrumentations.find((i) => i.instrumentation === 'graphql')!;
      expect(g, r.stdout + r.stderr).toBeDefined();
      expect(g.status).toBe(status);
      expect(g.modules).toEqual([expect.objectContaining({ name: 'graphql', version, supported: status === 'supported' })]);
    } finally {
      app.cleanup();
    }
  });
});
