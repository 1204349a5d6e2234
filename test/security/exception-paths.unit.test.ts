import { afterEach, describe, expect, it } from 'vitest';
import { exportedStack, setExceptionPaths } from '../../src/stack-paths';

const STACK = [
  "Error: ENOENT: no such file or directory, open '/etc/shop/secret.txt' (1/2 done, see http://docs.example/x)",
  '    at handler (/home/alice/shop/src/routes/users.js:12:5)',
  '    at Layer.handle (/home/alice/shop/node_modules/express/lib/router/layer.js:95:5)',
  '    at /opt/other/lib/thing.js:3:9',
  '    at file:///home/alice/shop/src/app.mjs:7:1',
  '    at process.processTicksAndRejections (node:internal/process/task_queues:105:5)',
  '    at Client.query (C:\\Users\\bob\\app\\node_modules\\pg\\lib\\client.js:1:2)',
].join('\n');

describe('exception.stacktrace paths', () => {
  afterEach(() => setExceptionPaths('relative', process.cwd()));

  it('shortens absolute paths: app files relative to the working directory, dependencies from node_modules, others to the file name', () => {
    setExceptionPaths('relative', '/home/alice/shop');
    expect(exportedStack(STACK).split('\n')).toEqual([
      "Error: ENOENT: no such file or directory, open 'secret.txt' (1/2 done, see http://docs.example/x)",
      '    at handler (src/routes/users.js:12:5)',
      '    at Layer.handle (node_modules/express/lib/router/layer.js:95:5)',
      '    at thing.js:3:9',
      '    at src/app.mjs:7:1',
      '    at process.processTicksAndRejections (node:internal/process/task_queues:105:5)',
      '    at Client.query (node_modules\\pg\\lib\\client.js:1:2)',
    ]);
  });

  it('leaves no trace of the host directory layout', () => {
    setExceptionPaths('relative', '/home/alice/shop');
    const out = exportedStack(STACK);
    for (const s of ['/home', 'alice', '/opt', '/etc', 'Users', 'bob', 'file://']) expect(out).not.toContain(s);
  });

  it('keeps stacks as Node wrote them in full mode', () => {
    setExceptionPaths('full', '/home/alice/shop');
    expect(exportedStack(STACK)).toBe(STACK);
  });

  it('handles a working directory given with a trailing slash, and stacks without paths', () => {
    setExceptionPaths('relative', '/home/alice/shop/');
    expect(exportedStack('Error: x\n    at f (/home/alice/shop/a.js:1:1)')).toBe('Error: x\n    at f (a.js:1:1)');
    expect(exportedStack('Error: plain')).toBe('Error: plain');
  });
});
