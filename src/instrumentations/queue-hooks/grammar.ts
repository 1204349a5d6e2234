/**
 * The OTEL_AGENT_QUEUE_HOOKS grammar.
 *
 *   hooks   = hook { ";" hook }                      (a newline also separates hooks)
 *   hook    = module "#" export "=" role "(" [ item { "," item } ] ")"
 *   module  = "./path" | "../path" | "/abs/path"     (relative to the working directory)
 *           | package-name [ "/subpath" ]
 *   export  = name { "." name }                       e.g. submit, default, TaskQueue.prototype.submit
 *   role    = "submit" | "execute" | "span"
 *   item    = path                                    where the trace context travels (submit/execute)
 *           | key "=" value                           an option
 *           | "link"                                  execute only: new trace with a link
 *   path    = ( "arg" digits | "this" | "return" ) { "." name-or-index }
 *
 * Options: queue=<literal or path>, id=<path>, attempt=<path>, system=<literal>,
 * name=<literal>, key=<literal>, callback=auto|none|last|argN.
 *
 * Parsing is pure (no file system, no process state) so it is unit tested in
 * process and can be reused by diagnostics; resolving the module is activate.ts's job.
 */

export type Role = 'submit' | 'execute' | 'span';

/** Where a value is read from when the hooked function is called. */
export interface ValuePath {
  /** 'arg' with `index`, 'this' (the receiver), or 'return' (the result, once it is known). */
  root: 'arg' | 'this' | 'return';
  index: number;
  /** Property names below the root. */
  props: readonly string[];
  /** As written, for messages. */
  text: string;
}

export type CallbackSpec = { kind: 'auto' } | { kind: 'none' } | { kind: 'last' } | { kind: 'arg'; index: number };

export interface HookSpec {
  /** The hook exactly as written (trimmed): used to name it in warnings. */
  text: string;
  module: string;
  /** The export path split on dots; first segment may be `default`. */
  exportPath: readonly string[];
  role: Role;
  /** submit/execute: the object the context is written into / read from. */
  carrier?: ValuePath;
  queue?: { literal: string } | { path: ValuePath };
  id?: ValuePath;
  attempt?: ValuePath;
  system: string;
  /** Span name override. */
  name?: string;
  /** Property of the carrier object that holds the propagation headers. */
  key: string;
  /** execute: start a new trace linked to the submitter instead of continuing it. */
  link: boolean;
  callback: CallbackSpec;
}

export interface ParseResult {
  hooks: HookSpec[];
  /** One message per rejected hook, naming it. */
  errors: string[];
}

export const DEFAULT_KEY = '_otel';
export const DEFAULT_SYSTEM = 'custom';

const IDENT = /^[A-Za-z_$][\w$]*$/;
const PROP = /^(?:[A-Za-z_$][\w$-]*|\d+)$/;
const LITERAL = /^[^\s,()=;#]+$/;
const SYSTEM = /^[a-z0-9][a-z0-9_.-]*$/;
const HOOK = /^(.+)#([^#=\s]+)\s*=\s*([A-Za-z]+)\s*\((.*)\)$/s;

const OPTION_KEYS = ['queue', 'id', 'attempt', 'system', 'name', 'key', 'callback'] as const;
type OptionKey = (typeof OPTION_KEYS)[number];

class HookError extends Error {}

function fail(msg: string): never {
  throw new HookError(msg);
}

/** True if the text is written as a path (starts with argN, this or return). */
export function looksLikePath(s: string): boolean {
  return /^(?:arg\d+|this|return)(?:\.|$)/.test(s);
}

export function parsePath(s: string, what: string): ValuePath {
  const parts = s.split('.');
  const head = parts[0] ?? '';
  let root: ValuePath['root'];
  let index = 0;
  const m = /^arg(\d+)$/.exec(head);
  if (m) {
    root = 'arg';
    index = Number(m[1]);
    if (index > 64) fail(`${what} "${s}": argument index ${index} is out of range`);
  } else if (head === 'this' || head === 'return') {
    root = head;
  } else {
    fail(`${what} "${s}" must start with argN (arg0 is the first argument), this or return`);
  }
  const props = parts.slice(1);
  for (const p of props) {
    if (!PROP.test(p)) fail(`${what} "${s}" has an invalid property name "${p}"`);
  }
  return { root, index, props, text: s };
}

/** Values never contain commas (queue names and paths cannot), so a plain split is exact. */
function splitItems(inner: string): string[] {
  const t = inner.trim();
  if (t === '') return [];
  return t.split(',').map((x) => x.trim());
}

export function parseHook(text: string): HookSpec {
  const m = HOOK.exec(text);
  if (!m) fail('expected <module>#<export>=<role>(<arguments>), e.g. ./lib/queue.js#submit=submit(arg1)');
  const module = m[1]!.trim();
  const exportText = m[2]!;
  const role = m[3]!;
  const inner = m[4]!;

  if (module === '') fail('the module before "#" is empty');
  if (/\s/.test(module)) fail(`the module "${module}" contains whitespace`);
  const exportPath = exportText.split('.');
  for (const seg of exportPath) {
    if (!IDENT.test(seg)) fail(`the export path "${exportText}" has an invalid segment "${seg}" (use a name, default, or Class.prototype.method)`);
  }
  if (role !== 'submit' && role !== 'execute' && role !== 'span') fail(`unknown role "${role}" (use submit, execute or span)`);

  const spec: HookSpec = {
    text,
    module,
    exportPath,
    role,
    system: DEFAULT_SYSTEM,
    key: DEFAULT_KEY,
    link: false,
    callback: { kind: 'auto' },
  };
  const seen = new Set<string>();
  for (const item of splitItems(inner)) {
    if (item === '') fail('an argument between commas is empty');
    const eq = item.indexOf('=');
    if (eq < 0) {
      if (item === 'link') {
        if (role !== 'execute') fail('"link" only applies to the execute role');
        spec.link = true;
        continue;
      }
      if (!looksLikePath(item)) fail(`"${item}" is neither a path (arg0, arg1.input, this.task) nor an option (key=value)`);
      if (role === 'span') fail(`the span role carries no context, so "${item}" has no meaning here`);
      if (spec.carrier) fail(`two context carriers ("${spec.carrier.text}" and "${item}"); name one`);
      const p = parsePath(item, 'carrier');
      if (p.root === 'return') fail(`the carrier "${item}" cannot be the return value: the context must be written before the function runs`);
      spec.carrier = p;
      continue;
    }
    const key = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    if (!(OPTION_KEYS as readonly string[]).includes(key)) fail(`unknown option "${key}" (known: ${OPTION_KEYS.join(', ')})`);
    if (seen.has(key)) fail(`option "${key}" is given twice`);
    seen.add(key);
    if (value === '') fail(`option "${key}" has no value`);
    applyOption(spec, key as OptionKey, value);
  }
  if (role !== 'span' && !spec.carrier) {
    fail(`the ${role} role needs the argument the context travels in, e.g. ${role}(arg0) or ${role}(arg1.payload)`);
  }
  return spec;
}

function applyOption(spec: HookSpec, key: OptionKey, value: string): void {
  const messagingOnly = (): void => {
    if (spec.role === 'span') fail(`option "${key}" applies to submit and execute, not span`);
  };
  switch (key) {
    case 'queue':
      messagingOnly();
      if (looksLikePath(value)) spec.queue = { path: parsePath(value, 'queue') };
      else if (LITERAL.test(value)) spec.queue = { literal: value };
      else fail(`queue "${value}" is not a plain name or a path`);
      break;
    case 'id':
      messagingOnly();
      spec.id = parsePath(value, 'id');
      break;
    case 'attempt':
      messagingOnly();
      spec.attempt = parsePath(value, 'attempt');
      break;
    case 'system':
      messagingOnly();
      if (!SYSTEM.test(value)) fail(`system "${value}" must be lower case letters, digits, _ . or -`);
      spec.system = value;
      break;
    case 'name':
      if (!LITERAL.test(value)) fail(`name "${value}" must be one word without , ( ) = ; #`);
      spec.name = value;
      break;
    case 'key':
      messagingOnly();
      if (!IDENT.test(value)) fail(`key "${value}" must be an identifier such as _otel`);
      spec.key = value;
      break;
    case 'callback': {
      if (value === 'auto' || value === 'none' || value === 'last') spec.callback = { kind: value };
      else {
        const m = /^arg(\d+)$/.exec(value);
        if (!m) fail(`callback "${value}" must be auto, none, last or argN`);
        spec.callback = { kind: 'arg', index: Number(m[1]) };
      }
      break;
    }
  }
}

/** Splits the variable into hooks and parses each; a bad hook is reported and skipped, the rest still apply. */
export function parseQueueHooks(raw: string): ParseResult {
  const hooks: HookSpec[] = [];
  const errors: string[] = [];
  const seen = new Set<string>();
  for (const part of raw.split(/[;\n]/)) {
    const text = part.trim();
    if (text === '') continue;
    try {
      const h = parseHook(text);
      const id = `${h.module}#${h.exportPath.join('.')}`;
      if (seen.has(id)) fail(`${id} is already hooked by an earlier entry`);
      seen.add(id);
      hooks.push(h);
    } catch (e) {
      if (!(e instanceof HookError)) throw e;
      errors.push(`OTEL_AGENT_QUEUE_HOOKS: hook "${text}" ignored: ${e.message}`);
    }
  }
  return { hooks, errors };
}

/** The span name a hook produces when it has no name= option (queue names read from arguments are filled in at call time). */
export function defaultSpanName(spec: HookSpec, queue: string | undefined, moduleBase: string): string {
  if (spec.name) return spec.name;
  // "<operation> <destination>", as current messaging conventions and the agent's amqplib spans name them.
  if (spec.role === 'submit') return queue ? `publish ${queue}` : 'publish';
  if (spec.role === 'execute') return queue ? `process ${queue}` : 'process';
  return functionName(spec, moduleBase);
}

/** `TaskQueue.prototype.submit` -> `TaskQueue.submit`; `default` -> the module's base name. */
export function functionName(spec: HookSpec, moduleBase: string): string {
  const segs = spec.exportPath.filter((s) => s !== 'prototype');
  if (segs[0] === 'default') segs[0] = moduleBase;
  return segs.join('.');
}
