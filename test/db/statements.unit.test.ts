import { describe, expect, it } from 'vitest';
import { mongoStatement } from '../../src/instrumentations/mongodb/shaping';
import { redisStatement } from '../../src/instrumentations/db/redis';

describe('redisStatement: command and keys, never values', () => {
  it.each([
    ['SET', ['user:1', 'hunter2', 'EX', '60'], 'SET user:1 ? ? ?'],
    ['set', ['user:1', 'hunter2'], 'SET user:1 ?'],
    ['HSET', ['user:1', 'email', 'a@b.c'], 'HSET user:1 ? ?'],
    ['GET', ['user:1'], 'GET user:1'],
    ['MGET', ['a', 'b', 'c'], 'MGET a b c'],
    ['DEL', ['a', 'b'], 'DEL a b'],
    ['MSET', ['a', '1', 'b', '2'], 'MSET a ? b ?'],
    // upstream's default serializer printed every argument of these
    ['SREM', ['set', 'member-secret'], 'SREM set ?'],
    ['SISMEMBER', ['set', 'member-secret'], 'SISMEMBER set ?'],
    ['LREM', ['list', '0', 'value-secret'], 'LREM list ? ?'],
    ['ZSCORE', ['zset', 'member-secret'], 'ZSCORE zset ?'],
    ['EVAL', ['return 1', '1', 'key', 'arg-secret'], 'EVAL ? ? ? ?'],
    ['AUTH', ['user', 'password-secret'], 'AUTH ? ?'],
    ['HELLO', ['3', 'AUTH', 'user', 'password-secret'], 'HELLO ? ? ? ?'],
    ['CONFIG', ['SET', 'requirepass', 'password-secret'], 'CONFIG SET ? ?'],
    ['CLIENT', ['SETNAME', 'worker-1'], 'CLIENT SETNAME ?'],
    ['PUBLISH', ['channel', 'message-secret'], 'PUBLISH channel ?'],
    ['PING', [], 'PING'],
  ] as const)('%s %j', (cmd, args, expected) => {
    expect(redisStatement(cmd, args)).toBe(expected);
  });

  it('keys given as Buffers are shown when printable; binary ones are masked', () => {
    expect(redisStatement('GET', [Buffer.from('user:1')])).toBe('GET user:1');
    expect(redisStatement('GET', [Buffer.from([0xff, 0x00, 0x01])])).toBe('GET ?');
  });

  it('lists at most ten arguments', () => {
    const keys = Array.from({ length: 25 }, (_, i) => `k${i}`);
    expect(redisStatement('DEL', keys)).toBe(`DEL ${keys.slice(0, 10).join(' ')} …(15 more)`);
  });
});

describe('mongoStatement: the command shape with every value masked', () => {
  it('masks strings, numbers, ObjectId-like values, nested and in arrays', () => {
    const cmd = { find: 'items', filter: { email: 'a@b.c', age: { $gt: 30 }, tags: { $in: ['x', 'y'] } }, limit: 1 };
    expect(mongoStatement(cmd)).toBe('{"find":"?","filter":{"email":"?","age":{"$gt":"?"},"tags":{"$in":["?","?"]}},"limit":"?"}');
    expect(mongoStatement({ _id: { toJSON: () => 'ffffffffffffffffffffffff' } })).toBe('{"_id":"?"}');
  });

  it('survives cycles', () => {
    const a: Record<string, unknown> = { x: 1 };
    a.self = a;
    expect(mongoStatement(a)).toBe('{"x":"?","self":"[Circular]"}');
  });
});
