/**
 * In-memory MongoDB wire-protocol stand-in for tests (no real mongod is available here).
 *
 * The real `mongodb` driver (6.x) connects to it over TCP like to a standalone MongoDB 7.0
 * (maxWireVersion 21). It implements:
 *   - Framing: OP_MSG (2013) with section kind 0 (body) and kind 1 (document sequences, used by
 *     the driver for insert/update/delete payloads), the moreToCome flag (no reply is sent) and
 *     the checksum flag (checksum ignored); legacy OP_QUERY answered with OP_REPLY, but only for
 *     the hello/isMaster handshake, as a real 6.0+ server does.
 *   - Commands: hello/isMaster/ismaster, ping, buildInfo, endSessions, insert, find, getMore,
 *     killCursors, update, delete, findAndModify, aggregate, count, distinct, create, drop,
 *     dropDatabase, listCollections, createIndexes, listIndexes.
 *   - Query filters: equality (incl. null = missing, array-contains, RegExp literals), dotted
 *     paths, $eq $ne $gt $gte $lt $lte $in $nin $exists $not, and top-level $and/$or/$nor.
 *   - Updates: $set $unset $inc $push $setOnInsert, full-document replacement, upsert, multi.
 *   - Aggregation stages: $match $group $sort $limit $skip $project $count. $group ids and
 *     accumulator arguments may be literals, '$field' paths or objects of those; accumulators
 *     $sum $avg $min $max $first $last $push $addToSet $count.
 *   - Cursors with batchSize/getMore/killCursors; unique indexes (`_id_` and createIndexes with
 *     unique: true) raise E11000 duplicate key errors (code 11000) like a real server (but a
 *     unique index built over already-duplicated data is not rejected).
 *   - Errors are real-server-shaped ({ok: 0, errmsg, code, codeName}, or writeErrors for
 *     insert/update/delete) so the driver raises MongoServerError / MongoBulkWriteError.
 *
 * Not implemented: auth/SASL, TLS, compression, replica sets/transactions/change streams,
 * streaming hello (no topologyVersion, so the driver polls), aggregation expressions/operators
 * ($add, $cond, ...), $lookup/$out/$merge and other stages, $regex/$elemMatch/$size/$all/$type,
 * array-position operators ($, $[]), update pipelines, collation, non-unique index semantics,
 * sort on array fields by min/max element, maxTimeMS, read/write concerns (accepted, ignored).
 * int64 values that fit in a double are stored as plain numbers (type not preserved).
 * Unknown commands get {ok: 0, code: 59, codeName: 'CommandNotFound'}.
 */
import * as net from 'node:net';
import { deserialize, EJSON, Long, ObjectId, serialize } from 'bson';

type Doc = Record<string, unknown>;

const OP_REPLY = 1;
const OP_QUERY = 2004;
const OP_MSG = 2013;
const MSG_CHECKSUM_PRESENT = 1;
const MSG_MORE_TO_COME = 2;
/** MongoDB 7.0. The installed driver accepts 8 (MIN_SUPPORTED_WIRE_VERSION) to 27. */
const MAX_WIRE_VERSION = 21;
const MAX_MESSAGE_SIZE = 48_000_000;
const DEFAULT_FIRST_BATCH = 101;

export interface MongoTestServer {
  host: string;
  port: number;
  /** e.g. mongodb://127.0.0.1:PORT/?directConnection=true */
  uri: string;
  close(): Promise<void>;
}

class CommandError extends Error {
  constructor(
    readonly code: number,
    readonly codeName: string,
    message: string,
    readonly extra: Doc = {},
  ) {
    super(message);
  }
}

const badValue = (msg: string): CommandError => new CommandError(2, 'BadValue', msg);

// ---------------------------------------------------------------------------------------------
// Value helpers: BSON-like ordering, paths, cloning
// ---------------------------------------------------------------------------------------------

function bsonTypeOf(v: unknown): string | undefined {
  return typeof v === 'object' && v !== null ? (v as { _bsontype?: string })._bsontype : undefined;
}

function isPlainObject(v: unknown): v is Doc {
  return (
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    !(v instanceof Date) &&
    !(v instanceof RegExp) &&
    !(v instanceof Uint8Array) &&
    bsonTypeOf(v) === undefined
  );
}

/** Rank of a value in MongoDB's cross-type sort order (simplified). */
function typeRank(v: unknown): number {
  if (v === undefined || v === null) return 1;
  const bt = bsonTypeOf(v);
  if (typeof v === 'number' || typeof v === 'bigint' || bt === 'Long' || bt === 'Int32' || bt === 'Double' || bt === 'Decimal128') return 2;
  if (typeof v === 'string') return 3;
  if (Array.isArray(v)) return 5;
  if (v instanceof Uint8Array || bt === 'Binary') return 6;
  if (bt === 'ObjectId') return 7;
  if (typeof v === 'boolean') return 8;
  if (v instanceof Date) return 9;
  return 4; // plain objects; other BSON types are compared by their EJSON text
}

/** Number of a JS number, bigint or BSON numeric wrapper (Long, Int32, Double, Decimal128). */
const toNumber = (v: unknown): number => (typeof v === 'object' && v !== null ? Number(String(v)) : Number(v));

/** Total order over values, close enough to MongoDB's for tests. 0 means "equal". */
function compare(a: unknown, b: unknown): number {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra - rb;
  const cmp = <T>(x: T, y: T): number => (x < y ? -1 : x > y ? 1 : 0);
  switch (ra) {
    case 1:
      return 0;
    case 2:
      return cmp(toNumber(a), toNumber(b));
    case 3:
      return cmp(a as string, b as string);
    case 7:
      return cmp((a as ObjectId).toHexString(), (b as ObjectId).toHexString());
    case 8:
      return cmp(Number(a), Number(b));
    case 9:
      return cmp((a as Date).getTime(), (b as Date).getTime());
    case 4: // plain objects and arrays: field by field
    case 5: {
      if (ra === 4 && (!isPlainObject(a) || !isPlainObject(b))) return cmp(EJSON.stringify({ a }), EJSON.stringify({ a: b }));
      const x = Object.entries(a as object);
      const y = Object.entries(b as object);
      for (let i = 0; i < Math.min(x.length, y.length); i++) {
        const c = cmp(x[i]![0], y[i]![0]) || compare(x[i]![1], y[i]![1]);
        if (c !== 0) return c;
      }
      return x.length - y.length;
    }
    default:
      return cmp(EJSON.stringify({ a }), EJSON.stringify({ a: b }));
  }
}

function getPath(doc: unknown, path: string): unknown {
  let cur: unknown = doc;
  for (const part of path.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Doc)[part];
  }
  return cur;
}

function setPath(doc: Doc, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur: Doc = doc;
  for (const part of parts.slice(0, -1)) {
    const next = cur[part];
    if (typeof next !== 'object' || next === null) cur[part] = {};
    cur = cur[part] as Doc;
  }
  cur[parts[parts.length - 1]!] = value;
}

function unsetPath(doc: Doc, path: string): void {
  const parts = path.split('.');
  const parent = parts.length > 1 ? getPath(doc, parts.slice(0, -1).join('.')) : doc;
  if (typeof parent === 'object' && parent !== null) delete (parent as Doc)[parts[parts.length - 1]!];
}

function clone<T>(value: T): T {
  return (deserialize(serialize({ v: value })) as { v: T }).v;
}

function asDocs(v: unknown, what: string): Doc[] {
  if (!Array.isArray(v) || !v.every(isPlainObject)) throw badValue(`${what} must be an array of objects`);
  return v;
}

const optDoc = (v: unknown): Doc | undefined => (isPlainObject(v) ? v : undefined);
const optNum = (v: unknown): number | undefined => (v === undefined || v === null ? undefined : toNumber(v));

// ---------------------------------------------------------------------------------------------
// Query matching, sorting, projection
// ---------------------------------------------------------------------------------------------

/** True if `value` (or, for arrays, any element of it) satisfies `pred`. */
function anyValue(value: unknown, pred: (v: unknown) => boolean): boolean {
  return pred(value) || (Array.isArray(value) && value.some(pred));
}

function isOperatorDoc(v: unknown): v is Doc {
  if (!isPlainObject(v)) return false;
  const keys = Object.keys(v);
  return keys.length > 0 && keys.every((k) => k.startsWith('$'));
}

function equalsCond(value: unknown, cond: unknown): boolean {
  if (cond instanceof RegExp) return anyValue(value, (v) => typeof v === 'string' && cond.test(v));
  return anyValue(value, (v) => compare(v, cond) === 0);
}

function rangeCond(value: unknown, arg: unknown, ok: (c: number) => boolean): boolean {
  return anyValue(value, (v) => typeRank(v) === typeRank(arg) && ok(compare(v, arg)));
}

function matchField(value: unknown, cond: unknown): boolean {
  if (!isOperatorDoc(cond)) return equalsCond(value, cond);
  return Object.entries(cond).every(([op, arg]) => {
    switch (op) {
      case '$eq':
        return equalsCond(value, arg);
      case '$ne':
        return !equalsCond(value, arg);
      case '$gt':
        return rangeCond(value, arg, (c) => c > 0);
      case '$gte':
        return rangeCond(value, arg, (c) => c >= 0);
      case '$lt':
        return rangeCond(value, arg, (c) => c < 0);
      case '$lte':
        return rangeCond(value, arg, (c) => c <= 0);
      case '$in':
        if (!Array.isArray(arg)) throw badValue('$in needs an array');
        return arg.some((a) => equalsCond(value, a));
      case '$nin':
        if (!Array.isArray(arg)) throw badValue('$nin needs an array');
        return !arg.some((a) => equalsCond(value, a));
      case '$exists':
        return (value !== undefined) === Boolean(arg);
      case '$not':
        return !matchField(value, arg);
      default:
        throw badValue(`unknown operator: ${op}`);
    }
  });
}

function matches(doc: Doc, filter: Doc | undefined): boolean {
  if (!filter) return true;
  return Object.entries(filter).every(([key, cond]) => {
    switch (key) {
      case '$and':
        return asDocs(cond, '$and').every((f) => matches(doc, f));
      case '$or':
        return asDocs(cond, '$or').some((f) => matches(doc, f));
      case '$nor':
        return !asDocs(cond, '$nor').some((f) => matches(doc, f));
      case '$comment':
        return true;
      default:
        if (key.startsWith('$')) throw badValue(`unknown top level operator: ${key}`);
        return matchField(getPath(doc, key), cond);
    }
  });
}

function sortDocs(docs: Doc[], spec: Doc | undefined): Doc[] {
  if (!spec || Object.keys(spec).length === 0) return docs;
  const keys = Object.entries(spec).map(([k, dir]) => [k, toNumber(dir) < 0 ? -1 : 1] as const);
  return [...docs].sort((a, b) => {
    for (const [k, dir] of keys) {
      const c = compare(getPath(a, k), getPath(b, k));
      if (c !== 0) return c * dir;
    }
    return 0;
  });
}

/** Evaluates a (tiny subset of an) aggregation expression: '$path', literal, or object of those. */
function evalExpr(doc: Doc, expr: unknown): unknown {
  if (typeof expr === 'string' && expr.startsWith('$')) return getPath(doc, expr.slice(1));
  if (isPlainObject(expr)) {
    const first = Object.keys(expr)[0];
    if (first?.startsWith('$')) {
      if (first === '$literal') return expr[first];
      throw new CommandError(168, 'InvalidPipelineOperator', `Unrecognized expression '${first}'`);
    }
    return Object.fromEntries(Object.entries(expr).map(([k, v]) => [k, evalExpr(doc, v)]));
  }
  return expr;
}

function project(doc: Doc, proj: Doc | undefined): Doc {
  if (!proj || Object.keys(proj).length === 0) return doc;
  const isIncluded = (v: unknown): boolean => (typeof v !== 'number' && typeof v !== 'boolean' ? true : Boolean(v));
  const inclusive = Object.entries(proj).some(([k, v]) => k !== '_id' && isIncluded(v));
  if (!inclusive) {
    const out = clone(doc);
    for (const key of Object.keys(proj)) unsetPath(out, key);
    return out;
  }
  const out: Doc = {};
  if (proj._id === undefined || isIncluded(proj._id)) {
    const id = proj._id === undefined || typeof proj._id === 'number' || typeof proj._id === 'boolean' ? doc._id : evalExpr(doc, proj._id);
    if (id !== undefined) out._id = id;
  }
  for (const [key, v] of Object.entries(proj)) {
    if (key === '_id' || !isIncluded(v)) continue;
    const value = typeof v === 'number' || typeof v === 'boolean' ? getPath(doc, key) : evalExpr(doc, v);
    if (value !== undefined) setPath(out, key, value);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Updates and aggregation
// ---------------------------------------------------------------------------------------------

function applyUpdate(doc: Doc, update: unknown, isInsert: boolean): Doc {
  if (Array.isArray(update)) throw badValue('pipeline-style updates are not supported by the test mongo server');
  if (!isPlainObject(update)) throw badValue('update must be an object');
  const ops = Object.keys(update);
  if (ops.length > 0 && !ops.some((k) => k.startsWith('$'))) {
    // Replacement document: keeps the original _id.
    if (update._id !== undefined && doc._id !== undefined && compare(update._id, doc._id) !== 0) {
      throw new CommandError(66, 'ImmutableField', "After applying the update, the (immutable) field '_id' was found to have been altered");
    }
    const { _id: _ignored, ...rest } = clone(update);
    return doc._id === undefined ? clone(update) : { _id: doc._id, ...rest };
  }
  const out = clone(doc);
  for (const [op, fields] of Object.entries(update)) {
    if (!isPlainObject(fields)) throw new CommandError(9, 'FailedToParse', `Modifiers operate on fields but we found type ${typeof fields} instead`);
    for (const [path, arg] of Object.entries(fields)) {
      switch (op) {
        case '$set':
          setPath(out, path, clone(arg));
          break;
        case '$setOnInsert':
          if (isInsert) setPath(out, path, clone(arg));
          break;
        case '$unset':
          unsetPath(out, path);
          break;
        case '$inc': {
          const cur = getPath(out, path) ?? 0;
          if (typeRank(cur) !== 2 || typeRank(arg) !== 2) {
            throw new CommandError(
              14,
              'TypeMismatch',
              `Cannot apply $inc to a value of non-numeric type. {_id: ${EJSON.stringify(out._id)}} has the field '${path}' of non-numeric type`,
            );
          }
          setPath(out, path, toNumber(cur) + toNumber(arg));
          break;
        }
        case '$push': {
          const cur = getPath(out, path);
          if (cur === undefined) setPath(out, path, [clone(arg)]);
          else if (Array.isArray(cur)) cur.push(clone(arg));
          else throw new CommandError(2, 'BadValue', `The field '${path}' must be an array but is of type ${typeof cur}`);
          break;
        }
        default:
          throw new CommandError(
            9,
            'FailedToParse',
            `Unknown modifier: ${op}. Expected a valid update modifier or pipeline-style update specified as an array`,
          );
      }
    }
  }
  if (doc._id !== undefined && compare(out._id, doc._id) !== 0) {
    throw new CommandError(66, 'ImmutableField', "Performing an update on the path '_id' would modify the immutable field '_id'");
  }
  return out;
}

/** The document an upsert starts from: the filter's plain equality fields. */
function upsertSeed(filter: Doc | undefined): Doc {
  const seed: Doc = {};
  for (const [key, cond] of Object.entries(filter ?? {})) {
    if (key.startsWith('$')) continue;
    if (!isOperatorDoc(cond)) setPath(seed, key, clone(cond));
    else if ('$eq' in cond) setPath(seed, key, clone(cond.$eq));
  }
  return seed;
}

function groupDocs(docs: Doc[], spec: Doc): Doc[] {
  if (!('_id' in spec)) throw new CommandError(15955, 'Location15955', 'a group specification must include an _id');
  const accs = Object.entries(spec)
    .filter(([k]) => k !== '_id')
    .map(([field, acc]) => {
      const entries = isPlainObject(acc) ? Object.entries(acc) : [];
      if (entries.length !== 1) throw new CommandError(40234, 'Location40234', `The field '${field}' must be an accumulator object`);
      return { field, op: entries[0]![0], expr: entries[0]![1] };
    });
  const groups = new Map<string, { id: unknown; values: unknown[][] }>();
  for (const doc of docs) {
    const id = evalExpr(doc, spec._id) ?? null;
    const key = EJSON.stringify({ id }, { relaxed: false });
    const g = groups.get(key) ?? { id, values: accs.map(() => []) };
    groups.set(key, g);
    accs.forEach((a, i) => g.values[i]!.push(evalExpr(doc, a.expr)));
  }
  return [...groups.values()].map(({ id, values }) => {
    const out: Doc = { _id: id };
    accs.forEach(({ field, op }, i) => {
      const vals = values[i]!;
      const nums = vals.filter((v) => typeRank(v) === 2).map(toNumber);
      const present = vals.filter((v) => v !== undefined && v !== null);
      switch (op) {
        case '$sum':
          out[field] = nums.reduce((s, n) => s + n, 0);
          break;
        case '$count':
          out[field] = vals.length;
          break;
        case '$avg':
          out[field] = nums.length ? nums.reduce((s, n) => s + n, 0) / nums.length : null;
          break;
        case '$min':
          out[field] = present.length ? present.reduce((m, v) => (compare(v, m) < 0 ? v : m)) : null;
          break;
        case '$max':
          out[field] = present.length ? present.reduce((m, v) => (compare(v, m) > 0 ? v : m)) : null;
          break;
        case '$first':
          out[field] = vals[0] ?? null;
          break;
        case '$last':
          out[field] = vals[vals.length - 1] ?? null;
          break;
        case '$push':
          out[field] = vals.filter((v) => v !== undefined);
          break;
        case '$addToSet':
          out[field] = present.filter((v, j) => present.findIndex((w) => compare(v, w) === 0) === j);
          break;
        default:
          throw new CommandError(15952, 'Location15952', `unknown group operator '${op}'`);
      }
    });
    return out;
  });
}

function runPipeline(input: Doc[], pipeline: Doc[]): Doc[] {
  let docs = input;
  for (const stage of pipeline) {
    const keys = Object.keys(stage);
    if (keys.length !== 1) throw new CommandError(40323, 'Location40323', 'A pipeline stage specification object must contain exactly one field.');
    const name = keys[0]!;
    const arg = stage[name];
    switch (name) {
      case '$match':
        docs = docs.filter((d) => matches(d, optDoc(arg)));
        break;
      case '$sort':
        docs = sortDocs(docs, optDoc(arg));
        break;
      case '$limit':
        docs = docs.slice(0, toNumber(arg));
        break;
      case '$skip':
        docs = docs.slice(toNumber(arg));
        break;
      case '$project':
        docs = docs.map((d) => project(d, optDoc(arg)));
        break;
      case '$group':
        docs = groupDocs(docs, optDoc(arg) ?? {});
        break;
      case '$count':
        docs = docs.length > 0 ? [{ [String(arg)]: docs.length }] : [];
        break;
      default:
        throw new CommandError(40324, 'Location40324', `Unrecognized pipeline stage name: '${name}'`);
    }
  }
  return docs;
}

// ---------------------------------------------------------------------------------------------
// The in-memory server state and command dispatcher
// ---------------------------------------------------------------------------------------------

interface IndexSpec extends Doc {
  v: number;
  key: Doc;
  name: string;
  unique?: boolean;
}
interface Collection {
  docs: Doc[];
  indexes: IndexSpec[];
}
interface Cursor {
  ns: string;
  docs: Doc[];
}

class FakeMongo {
  private readonly dbs = new Map<string, Map<string, Collection>>();
  private readonly cursors = new Map<number, Cursor>();
  private nextCursorId = 1000;

  private coll(db: string, name: unknown, create: boolean): Collection | undefined {
    if (typeof name !== 'string' || name === '') throw new CommandError(73, 'InvalidNamespace', `Invalid collection name: ${String(name)}`);
    let colls = this.dbs.get(db);
    if (!colls && !create) return undefined;
    if (!colls) this.dbs.set(db, (colls = new Map()));
    let coll = colls.get(name);
    if (!coll && create) colls.set(name, (coll = { docs: [], indexes: [{ v: 2, key: { _id: 1 }, name: '_id_' }] }));
    return coll;
  }

  /** Throws an E11000 error if `doc` would violate a unique index (ignoring `self`). */
  private checkUnique(ns: string, coll: Collection, doc: Doc, self?: Doc): void {
    for (const idx of coll.indexes) {
      if (idx.name !== '_id_' && !idx.unique) continue;
      const fields = Object.keys(idx.key);
      const keyValue = Object.fromEntries(fields.map((f) => [f, getPath(doc, f) ?? null]));
      const clash = coll.docs.some((other) => other !== self && fields.every((f) => compare(getPath(other, f) ?? null, keyValue[f]) === 0));
      if (clash) {
        const shown = fields.map((f) => `${f}: ${EJSON.stringify(keyValue[f])}`).join(', ');
        throw new CommandError(11000, 'DuplicateKey', `E11000 duplicate key error collection: ${ns} index: ${idx.name} dup key: { ${shown} }`, {
          keyPattern: idx.key,
          keyValue,
        });
      }
    }
  }

  /** Adds `_id` if missing, enforces unique indexes, stores the document and returns it. */
  private insertDoc(ns: string, coll: Collection, doc: Doc): Doc {
    const stored = doc._id === undefined ? { _id: new ObjectId(), ...doc } : doc;
    this.checkUnique(ns, coll, stored);
    coll.docs.push(stored);
    return stored;
  }

  private cursorReply(ns: string, docs: Doc[], batchSize: number | undefined, singleBatch: boolean): Doc {
    const n = batchSize === undefined || batchSize < 0 ? DEFAULT_FIRST_BATCH : batchSize;
    const firstBatch = docs.slice(0, n);
    let id = 0;
    if (!singleBatch && docs.length > n) this.cursors.set((id = this.nextCursorId++), { ns, docs: docs.slice(n) });
    return { cursor: { firstBatch, id: Long.fromNumber(id), ns }, ok: 1 };
  }

  /** Runs statements of a write command, collecting per-statement errors as writeErrors. */
  private runWrites<T>(items: T[], ordered: boolean, fn: (item: T, index: number) => void): Doc[] {
    const writeErrors: Doc[] = [];
    for (let i = 0; i < items.length; i++) {
      try {
        fn(items[i]!, i);
      } catch (e) {
        if (!(e instanceof CommandError)) throw e;
        writeErrors.push({ index: i, code: e.code, codeName: e.codeName, errmsg: e.message, ...e.extra });
        if (ordered) break;
      }
    }
    return writeErrors;
  }

  command(cmd: Doc, connectionId: number): Doc {
    const name = Object.keys(cmd)[0] ?? '';
    const db = typeof cmd.$db === 'string' ? cmd.$db : 'admin';
    try {
      const reply = this.dispatch(name, cmd, db, connectionId);
      if (reply) return reply;
      return { ok: 0, errmsg: `no such command: '${name}'`, code: 59, codeName: 'CommandNotFound' };
    } catch (e) {
      if (e instanceof CommandError) return { ok: 0, errmsg: e.message, code: e.code, codeName: e.codeName, ...e.extra };
      return { ok: 0, errmsg: `test mongo server failure: ${String(e)}`, code: 1, codeName: 'InternalError' };
    }
  }

  private dispatch(name: string, cmd: Doc, db: string, connectionId: number): Doc | undefined {
    const collName = cmd[name];
    const ns = `${db}.${String(collName)}`;
    switch (name) {
      case 'hello':
      case 'isMaster':
      case 'ismaster':
        // A standalone server (no setName/msg); no topologyVersion, so the driver's monitor polls.
        return {
          ...(name === 'hello' ? { isWritablePrimary: true } : { ismaster: true }),
          helloOk: true,
          maxBsonObjectSize: 16 * 1024 * 1024,
          maxMessageSizeBytes: MAX_MESSAGE_SIZE,
          maxWriteBatchSize: 100_000,
          localTime: new Date(),
          logicalSessionTimeoutMinutes: 30,
          connectionId,
          minWireVersion: 0,
          maxWireVersion: MAX_WIRE_VERSION,
          readOnly: false,
          ok: 1,
        };
      case 'ping':
      case 'endSessions':
        return { ok: 1 };
      case 'buildInfo':
        return { version: '7.0.0', versionArray: [7, 0, 0, 0], gitVersion: 'test-mongo-server', bits: 64, maxBsonObjectSize: 16 * 1024 * 1024, ok: 1 };

      case 'insert': {
        const coll = this.coll(db, collName, true)!;
        let n = 0;
        const writeErrors = this.runWrites(asDocs(cmd.documents ?? [], 'documents'), cmd.ordered !== false, (doc) => {
          this.insertDoc(ns, coll, doc);
          n++;
        });
        return { n, ...(writeErrors.length ? { writeErrors } : {}), ok: 1 };
      }
      case 'update': {
        const coll = this.coll(db, collName, true)!;
        let n = 0;
        let nModified = 0;
        const upserted: Doc[] = [];
        const writeErrors = this.runWrites(asDocs(cmd.updates ?? [], 'updates'), cmd.ordered !== false, (stmt, index) => {
          const q = optDoc(stmt.q);
          const targets = coll.docs.filter((d) => matches(d, q));
          if (targets.length === 0 && stmt.upsert === true) {
            const stored = this.insertDoc(ns, coll, applyUpdate(upsertSeed(q), stmt.u, true));
            upserted.push({ index, _id: stored._id });
            n++;
          }
          for (const target of stmt.multi === true ? targets : targets.slice(0, 1)) {
            const updated = applyUpdate(target, stmt.u, false);
            n++;
            if (compare(updated, target) === 0) continue;
            this.checkUnique(ns, coll, updated, target);
            coll.docs[coll.docs.indexOf(target)] = updated;
            nModified++;
          }
        });
        return { n, nModified, ...(upserted.length ? { upserted } : {}), ...(writeErrors.length ? { writeErrors } : {}), ok: 1 };
      }
      case 'delete': {
        const coll = this.coll(db, collName, false);
        let n = 0;
        const writeErrors = this.runWrites(asDocs(cmd.deletes ?? [], 'deletes'), cmd.ordered !== false, (stmt) => {
          if (!coll) return;
          const q = optDoc(stmt.q);
          const victims = coll.docs.filter((d) => matches(d, q));
          const remove = new Set(toNumber(stmt.limit) === 1 ? victims.slice(0, 1) : victims);
          coll.docs = coll.docs.filter((d) => !remove.has(d));
          n += remove.size;
        });
        return { n, ...(writeErrors.length ? { writeErrors } : {}), ok: 1 };
      }
      case 'findAndModify':
      case 'findandmodify': {
        const coll = this.coll(db, collName, true)!;
        const q = optDoc(cmd.query);
        const target = sortDocs(
          coll.docs.filter((d) => matches(d, q)),
          optDoc(cmd.sort),
        )[0];
        const fields = optDoc(cmd.fields);
        if (cmd.remove === true) {
          if (target) coll.docs = coll.docs.filter((d) => d !== target);
          return { lastErrorObject: { n: target ? 1 : 0 }, value: target ? project(target, fields) : null, ok: 1 };
        }
        if (!target) {
          if (cmd.upsert !== true) return { lastErrorObject: { n: 0, updatedExisting: false }, value: null, ok: 1 };
          const stored = this.insertDoc(ns, coll, applyUpdate(upsertSeed(q), cmd.update, true));
          return { lastErrorObject: { n: 1, updatedExisting: false, upserted: stored._id }, value: cmd.new === true ? project(stored, fields) : null, ok: 1 };
        }
        const updated = applyUpdate(target, cmd.update, false);
        this.checkUnique(ns, coll, updated, target);
        coll.docs[coll.docs.indexOf(target)] = updated;
        return { lastErrorObject: { n: 1, updatedExisting: true }, value: project(cmd.new === true ? updated : target, fields), ok: 1 };
      }

      case 'find': {
        const docs = this.coll(db, collName, false)?.docs ?? [];
        let result = sortDocs(
          docs.filter((d) => matches(d, optDoc(cmd.filter))),
          optDoc(cmd.sort),
        );
        const limit = optNum(cmd.limit) ?? 0;
        result = result.slice(optNum(cmd.skip) ?? 0);
        if (limit !== 0) result = result.slice(0, Math.abs(limit));
        const projection = optDoc(cmd.projection);
        return this.cursorReply(
          ns,
          result.map((d) => project(d, projection)),
          optNum(cmd.batchSize),
          cmd.singleBatch === true || limit < 0,
        );
      }
      case 'aggregate': {
        if (typeof collName !== 'string') throw badValue('the test mongo server only supports collection-level aggregate');
        const docs = this.coll(db, collName, false)?.docs ?? [];
        const result = runPipeline(docs, asDocs(cmd.pipeline ?? [], 'pipeline'));
        return this.cursorReply(ns, result, optNum(optDoc(cmd.cursor)?.batchSize), false);
      }
      case 'getMore': {
        const id = toNumber(cmd.getMore);
        const cursor = this.cursors.get(id);
        if (!cursor) throw new CommandError(43, 'CursorNotFound', `cursor id ${id} not found`);
        const size = optNum(cmd.batchSize);
        const nextBatch = size ? cursor.docs.splice(0, size) : cursor.docs.splice(0);
        if (cursor.docs.length === 0) this.cursors.delete(id);
        return { cursor: { nextBatch, id: Long.fromNumber(cursor.docs.length ? id : 0), ns: cursor.ns }, ok: 1 };
      }
      case 'killCursors': {
        const ids = (Array.isArray(cmd.cursors) ? cmd.cursors : []).map(toNumber);
        const killed = ids.filter((id) => this.cursors.delete(id));
        const notFound = ids.filter((id) => !killed.includes(id));
        const asLongs = (xs: number[]): Long[] => xs.map((x) => Long.fromNumber(x));
        return { cursorsKilled: asLongs(killed), cursorsNotFound: asLongs(notFound), cursorsAlive: [], cursorsUnknown: [], ok: 1 };
      }
      case 'count': {
        const docs = this.coll(db, collName, false)?.docs ?? [];
        let n = docs.filter((d) => matches(d, optDoc(cmd.query))).length;
        n = Math.max(0, n - (optNum(cmd.skip) ?? 0));
        const limit = Math.abs(optNum(cmd.limit) ?? 0);
        return { n: limit ? Math.min(n, limit) : n, ok: 1 };
      }
      case 'distinct': {
        const docs = this.coll(db, collName, false)?.docs ?? [];
        const values: unknown[] = [];
        for (const d of docs.filter((x) => matches(x, optDoc(cmd.query)))) {
          const v = getPath(d, String(cmd.key));
          for (const item of Array.isArray(v) ? v : [v]) {
            if (item !== undefined && !values.some((w) => compare(w, item) === 0)) values.push(item);
          }
        }
        return { values: values.sort(compare), ok: 1 };
      }

      case 'create':
        if (this.coll(db, collName, false)) throw new CommandError(48, 'NamespaceExists', `Collection ${ns} already exists.`);
        this.coll(db, collName, true);
        return { ok: 1 };
      case 'drop': {
        const existed = this.dbs.get(db)?.delete(String(collName)) ?? false;
        return existed ? { nIndexesWas: 1, ns, ok: 1 } : { ok: 1 };
      }
      case 'dropDatabase':
        this.dbs.delete(db);
        return { dropped: db, ok: 1 };
      case 'listCollections': {
        const infos = [...(this.dbs.get(db)?.keys() ?? [])].map((collection) => ({
          name: collection,
          type: 'collection',
          options: {},
          info: { readOnly: false },
          idIndex: { v: 2, key: { _id: 1 }, name: '_id_' },
        }));
        const filtered = infos.filter((info) => matches(info, optDoc(cmd.filter)));
        const out = cmd.nameOnly === true ? filtered.map(({ name: n, type }) => ({ name: n, type })) : filtered;
        return this.cursorReply(`${db}.$cmd.listCollections`, out, optNum(optDoc(cmd.cursor)?.batchSize), false);
      }
      case 'createIndexes': {
        const existed = this.coll(db, collName, false) !== undefined;
        const coll = this.coll(db, collName, true)!;
        const before = coll.indexes.length;
        for (const spec of asDocs(cmd.indexes ?? [], 'indexes')) {
          if (!isPlainObject(spec.key) || typeof spec.name !== 'string') throw badValue('index specs need key and name');
          if (coll.indexes.some((i) => i.name === spec.name)) continue;
          coll.indexes.push({ ...spec, v: 2, key: spec.key, name: spec.name }); // existing duplicates are not checked
        }
        return { numIndexesBefore: before, numIndexesAfter: coll.indexes.length, createdCollectionAutomatically: !existed, ok: 1 };
      }
      case 'listIndexes': {
        const coll = this.coll(db, collName, false);
        if (!coll) throw new CommandError(26, 'NamespaceNotFound', `ns does not exist: ${ns}`);
        return this.cursorReply(
          ns,
          coll.indexes.map((i) => ({ ...i })),
          optNum(optDoc(cmd.cursor)?.batchSize),
          false,
        );
      }
      default:
        return undefined;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Wire protocol
// ---------------------------------------------------------------------------------------------

let nextResponseId = 1;

function header(totalLength: number, responseTo: number, opCode: number): Buffer {
  const h = Buffer.alloc(16);
  h.writeInt32LE(totalLength, 0);
  h.writeInt32LE(nextResponseId++, 4);
  h.writeInt32LE(responseTo, 8);
  h.writeInt32LE(opCode, 12);
  return h;
}

const toBson = (doc: Doc): Buffer => Buffer.from(serialize(doc, { ignoreUndefined: true }));

function encodeOpMsg(responseTo: number, doc: Doc): Buffer {
  const body = toBson(doc);
  const flagsAndKind = Buffer.alloc(5); // flagBits = 0, section kind 0
  return Buffer.concat([header(16 + 5 + body.length, responseTo, OP_MSG), flagsAndKind, body]);
}

function encodeOpReply(responseTo: number, doc: Doc): Buffer {
  const body = toBson(doc);
  const fields = Buffer.alloc(20); // responseFlags, cursorID (int64), startingFrom, numberReturned
  fields.writeInt32LE(1, 16);
  return Buffer.concat([header(16 + 20 + body.length, responseTo, OP_REPLY), fields, body]);
}

/** Parses an OP_MSG into one command document, folding kind-1 sequences in as array fields. */
function decodeOpMsg(msg: Buffer): { cmd: Doc; moreToCome: boolean } {
  const flags = msg.readUInt32LE(16);
  const end = flags & MSG_CHECKSUM_PRESENT ? msg.length - 4 : msg.length;
  let cmd: Doc | undefined;
  const sequences: Doc = {};
  let off = 20;
  while (off < end) {
    const kind = msg[off++];
    const size = msg.readInt32LE(off);
    if (kind === 0) {
      cmd = deserialize(msg.subarray(off, off + size));
    } else if (kind === 1) {
      const nul = msg.indexOf(0, off + 4);
      const docs: Doc[] = [];
      for (let p = nul + 1; p < off + size; p += msg.readInt32LE(p)) docs.push(deserialize(msg.subarray(p, p + msg.readInt32LE(p))));
      sequences[msg.toString('utf8', off + 4, nul)] = docs;
    } else {
      throw new Error(`unknown OP_MSG section kind ${String(kind)}`);
    }
    off += size;
  }
  if (!cmd) throw new Error('OP_MSG without a body section');
  return { cmd: { ...cmd, ...sequences }, moreToCome: (flags & MSG_MORE_TO_COME) !== 0 };
}

/** Parses a legacy OP_QUERY against `<db>.$cmd`. */
function decodeOpQuery(msg: Buffer): Doc {
  const nul = msg.indexOf(0, 20);
  const fullCollectionName = msg.toString('utf8', 20, nul);
  const off = nul + 1 + 8; // skip numberToSkip, numberToReturn
  let query = deserialize(msg.subarray(off, off + msg.readInt32LE(off)));
  if (isPlainObject(query.$query)) query = query.$query;
  return { ...query, $db: fullCollectionName.split('.')[0] };
}

function handleMessage(state: FakeMongo, msg: Buffer, connectionId: number): Buffer | null {
  const requestId = msg.readInt32LE(4);
  const opCode = msg.readInt32LE(12);
  if (opCode === OP_MSG) {
    const { cmd, moreToCome } = decodeOpMsg(msg);
    const reply = state.command(cmd, connectionId);
    return moreToCome ? null : encodeOpMsg(requestId, reply);
  }
  if (opCode === OP_QUERY) {
    const cmd = decodeOpQuery(msg);
    const name = Object.keys(cmd)[0] ?? '';
    const reply = ['hello', 'isMaster', 'ismaster'].includes(name)
      ? state.command(cmd, connectionId)
      : { ok: 0, errmsg: `Unsupported OP_QUERY command: ${name}. The client driver may require an upgrade.`, code: 352, codeName: 'UnsupportedOpQueryCommand' };
    return encodeOpReply(requestId, reply);
  }
  throw new Error(`unsupported opcode ${opCode}`);
}

export async function startMongoServer(): Promise<MongoTestServer> {
  const state = new FakeMongo();
  const sockets = new Set<net.Socket>();
  let nextConnectionId = 1;

  const server = net.createServer((socket) => {
    const connectionId = nextConnectionId++;
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      while (pending.length >= 4) {
        const length = pending.readInt32LE(0);
        if (length < 16 || length > MAX_MESSAGE_SIZE) return void socket.destroy();
        if (pending.length < length) return;
        const msg = pending.subarray(0, length);
        pending = pending.subarray(length);
        try {
          const reply = handleMessage(state, msg, connectionId);
          if (reply) socket.write(reply);
        } catch {
          // Malformed or unsupported message: a real server drops the connection too.
          return void socket.destroy();
        }
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  const host = '127.0.0.1';

  return {
    host,
    port,
    uri: `mongodb://${host}:${port}/?directConnection=true`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
