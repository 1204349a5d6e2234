import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MongoBulkWriteError, MongoClient, MongoServerError, type Collection, type CommandStartedEvent, type ObjectId } from 'mongodb';
import { startMongoServer, type MongoTestServer } from './mongo-server';

interface Item {
  _id?: ObjectId | string;
  name: string;
  qty: number;
  kind: string;
  tags?: string[];
}

const clientOptions = { serverSelectionTimeoutMS: 3000, connectTimeoutMS: 3000, socketTimeoutMS: 5000, monitorCommands: true };

describe('mongo stand-in server', () => {
  let server: MongoTestServer;
  let client: MongoClient;
  let items: Collection<Item>;
  const started: CommandStartedEvent[] = [];

  beforeAll(async () => {
    server = await startMongoServer();
    client = new MongoClient(server.uri, clientOptions);
    client.on('commandStarted', (ev) => started.push(ev));
    await client.connect();
  });

  afterAll(async () => {
    await client?.close();
    await server?.close();
  });

  beforeEach(async () => {
    items = client.db('shop').collection<Item>('items');
    await items.drop();
    started.length = 0;
    const res = await items.insertMany(
      Array.from({ length: 10 }, (_, i) => ({ name: `item${i}`, qty: i, kind: i % 2 === 0 ? 'even' : 'odd', tags: i < 3 ? ['low'] : [] })),
    );
    expect(res.insertedCount).toBe(10);
  });

  it('answers ping, hello and buildInfo', async () => {
    const admin = client.db('admin');
    expect(await admin.command({ ping: 1 })).toEqual({ ok: 1 });
    const hello = await admin.command({ hello: 1 });
    expect(hello.isWritablePrimary).toBe(true);
    expect(hello.maxWireVersion).toBe(21);
    expect((await admin.command({ buildInfo: 1 })).version).toBe('7.0.0');
  });

  it('inserts and finds single documents', async () => {
    const { insertedId } = await items.insertOne({ name: 'widget', qty: 42, kind: 'special' });
    const found = await items.findOne({ _id: insertedId });
    expect(found).toEqual({ _id: insertedId, name: 'widget', qty: 42, kind: 'special' });
    expect(await items.findOne({ name: 'missing' })).toBeNull();
    expect(await items.findOne({ tags: 'low', qty: { $gt: 1 } }, { projection: { _id: 0, name: 1 } })).toEqual({ name: 'item2' });
  });

  it('finds with filter, sort, skip, limit and getMore batches', async () => {
    const docs = await items
      .find({ qty: { $gte: 2, $lt: 9 }, kind: 'even' })
      .sort({ qty: -1 })
      .toArray();
    expect(docs.map((d) => d.qty)).toEqual([8, 6, 4, 2]);

    started.length = 0;
    const batched = await items
      .find({ qty: { $in: [1, 2, 3, 4, 5, 6, 7] } }, { batchSize: 2 })
      .sort({ qty: 1 })
      .skip(1)
      .limit(5)
      .toArray();
    expect(batched.map((d) => d.name)).toEqual(['item2', 'item3', 'item4', 'item5', 'item6']);
    const names = started.map((e) => e.commandName);
    expect(names[0]).toBe('find');
    // 5 results in batches of 2: firstBatch(2) + getMore(2) + getMore(1).
    expect(names.filter((n) => n === 'getMore')).toHaveLength(2);

    const all = await items.find({}, { batchSize: 3 }).toArray();
    expect(all).toHaveLength(10);
  });

  it('kills an abandoned cursor', async () => {
    const cursor = items.find({}, { batchSize: 2 });
    expect((await cursor.next())?.name).toBe('item0');
    started.length = 0;
    await cursor.close();
    expect(started.map((e) => e.commandName)).toEqual(['killCursors']);
  });

  it('updates one, many and upserts', async () => {
    const one = await items.updateOne({ name: 'item1' }, { $set: { kind: 'changed' }, $inc: { qty: 100 } });
    expect(one).toMatchObject({ matchedCount: 1, modifiedCount: 1, upsertedCount: 0 });
    expect(await items.findOne({ name: 'item1' })).toMatchObject({ qty: 101, kind: 'changed' });

    const many = await items.updateMany({ kind: 'even' }, { $inc: { qty: 1000 } });
    expect(many).toMatchObject({ matchedCount: 5, modifiedCount: 5 });
    expect(await items.countDocuments({ qty: { $gte: 1000 } })).toBe(5);

    const up = await items.updateOne({ name: 'new' }, { $set: { qty: 7, kind: 'fresh' } }, { upsert: true });
    expect(up.upsertedCount).toBe(1);
    expect(await items.findOne({ _id: up.upsertedId! })).toMatchObject({ name: 'new', qty: 7, kind: 'fresh' });

    const after = await items.findOneAndUpdate({ name: 'item3' }, { $set: { qty: -3 } }, { returnDocument: 'after' });
    expect(after?.qty).toBe(-3);
  });

  it('deletes one and many', async () => {
    expect((await items.deleteOne({ kind: 'odd' })).deletedCount).toBe(1);
    expect((await items.deleteMany({ kind: 'odd' })).deletedCount).toBe(4);
    expect((await items.deleteMany({ kind: 'odd' })).deletedCount).toBe(0);
    expect(await items.countDocuments()).toBe(5);
  });

  it('aggregates with $match, $group, $sort and $count', async () => {
    const groups = await items
      .aggregate([{ $match: { qty: { $lte: 5 } } }, { $group: { _id: '$kind', total: { $sum: '$qty' }, n: { $sum: 1 } } }, { $sort: { _id: 1 } }])
      .toArray();
    expect(groups).toEqual([
      { _id: 'even', total: 0 + 2 + 4, n: 3 },
      { _id: 'odd', total: 1 + 3 + 5, n: 3 },
    ]);
    expect(await items.aggregate([{ $match: { kind: 'odd' } }, { $count: 'odds' }]).toArray()).toEqual([{ odds: 5 }]);
    await expect(items.aggregate([{ $lookup: {} }]).toArray()).rejects.toMatchObject({ code: 40324 });
  });

  it('counts documents', async () => {
    expect(await items.countDocuments()).toBe(10);
    expect(await items.countDocuments({ kind: 'even' })).toBe(5);
    expect(await items.countDocuments({ qty: { $gt: 3 } }, { skip: 1, limit: 3 })).toBe(3);
    expect(await items.estimatedDocumentCount()).toBe(10);
    expect(await client.db('shop').collection('nothing').countDocuments()).toBe(0);
  });

  it('reports duplicate keys as MongoServerError code 11000', async () => {
    const doc = await items.findOne({ name: 'item0' });
    const err = await items.insertOne({ _id: doc!._id, name: 'dup', qty: 0, kind: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MongoServerError);
    expect((err as MongoServerError).code).toBe(11000);
    expect((err as MongoServerError).message).toMatch(/E11000 duplicate key error collection: shop.items index: _id_/);

    const bulk = await items
      .insertMany([
        { _id: 'a', name: 'a', qty: 1, kind: 'x' },
        { _id: 'a', name: 'a2', qty: 1, kind: 'x' },
        { _id: 'b', name: 'b', qty: 1, kind: 'x' },
      ])
      .catch((e: unknown) => e);
    expect(bulk).toBeInstanceOf(MongoBulkWriteError);
    expect((bulk as MongoBulkWriteError).code).toBe(11000);
    expect((bulk as MongoBulkWriteError).insertedCount).toBe(1);
    expect(await items.countDocuments({ kind: 'x' })).toBe(1); // ordered: stopped at the error

    const unordered = await items
      .insertMany(
        [
          { _id: 'a', name: 'a3', qty: 1, kind: 'y' },
          { _id: 'c', name: 'c', qty: 1, kind: 'y' },
        ],
        { ordered: false },
      )
      .catch((e: unknown) => e);
    expect((unordered as MongoBulkWriteError).writeErrors).toMatchObject([{ index: 0, code: 11000 }]);
    expect(await items.countDocuments({ kind: 'y' })).toBe(1);

    await items.createIndex({ name: 1 }, { unique: true });
    await expect(items.insertOne({ name: 'item5', qty: 0, kind: 'x' })).rejects.toMatchObject({ code: 11000 });
  });

  it('answers unknown commands with CommandNotFound', async () => {
    const err = await client
      .db('shop')
      .command({ frobnicate: 1 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MongoServerError);
    expect(err).toMatchObject({ code: 59, codeName: 'CommandNotFound' });
  });

  it('lists collections and supports drop', async () => {
    await client.db('shop').collection('other').insertOne({ x: 1 });
    const names = (await client.db('shop').listCollections().toArray()).map((c) => c.name).sort();
    expect(names).toEqual(['items', 'other']);
    expect(await client.db('shop').collection('other').drop()).toBe(true);
    expect((await client.db('shop').listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name)).toEqual(['items']);
  });

  it('accepts an OP_MSG handshake (serverApi) and unacknowledged writes', async () => {
    const apiClient = new MongoClient(server.uri, { ...clientOptions, serverApi: '1' });
    try {
      const coll = apiClient.db('shop').collection<Item>('items');
      await coll.insertOne({ name: 'fire-and-forget', qty: 1, kind: 'w0' }, { writeConcern: { w: 0 } });
      await expect.poll(() => items.countDocuments({ kind: 'w0' })).toBe(1);
    } finally {
      await apiClient.close();
    }
  });

  it('keeps two server instances independent', async () => {
    const other = await startMongoServer();
    const otherClient = new MongoClient(other.uri, clientOptions);
    try {
      expect(other.port).not.toBe(server.port);
      const otherItems = otherClient.db('shop').collection<Item>('items');
      expect(await otherItems.countDocuments()).toBe(0);
      await otherItems.insertOne({ name: 'only-here', qty: 1, kind: 'x' });
      expect(await otherItems.countDocuments()).toBe(1);
      expect(await items.countDocuments()).toBe(10);
      expect(await items.findOne({ name: 'only-here' })).toBeNull();
    } finally {
      await otherClient.close();
      await other.close();
    }
  });
});
