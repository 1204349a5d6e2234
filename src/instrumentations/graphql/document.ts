/**
 * A GraphQL document as `graphql.document`: the executable definitions printed
 * on one line, every literal value (string, number, boolean, and the literals
 * inside lists and input objects) replaced by `?`. Variables stay `$name`:
 * their values are never read. Names (fields, aliases, arguments, enum
 * values, types, directives) are the schema's vocabulary, not user data, and
 * are kept.
 *
 * Our own printer walks the AST rather than calling graphql's print(): the
 * document may come from any of several graphql copies in the process, and a
 * plain walk over `kind` strings works for every one of them (15, 16, 17).
 */

/** The longest document recorded; longer ones are cut, with a trailing `...`. */
export const MAX_DOCUMENT = 4096;

interface Node {
  kind: string;
  [k: string]: unknown;
}

const nodes = (v: unknown): Node[] => (Array.isArray(v) ? (v as Node[]) : []);
const name = (n: unknown): string => (n !== null && typeof n === 'object' ? String((n as { value?: unknown }).value ?? '') : '');

function value(v: Node | undefined): string {
  if (!v) return '';
  switch (v.kind) {
    case 'Variable':
      return `$${name(v.name)}`;
    case 'NullValue':
      return 'null';
    case 'EnumValue':
      return String(v.value);
    case 'ListValue':
      return `[${nodes(v.values).map(value).join(', ')}]`;
    case 'ObjectValue':
      return `{${nodes(v.fields)
        .map((f) => `${name(f.name)}: ${value(f.value as Node)}`)
        .join(', ')}}`;
    default:
      // IntValue, FloatValue, StringValue, BooleanValue and anything a later graphql adds.
      return '?';
  }
}

function type(t: Node | undefined): string {
  if (!t) return '';
  if (t.kind === 'NonNullType') return `${type(t.type as Node)}!`;
  if (t.kind === 'ListType') return `[${type(t.type as Node)}]`;
  return name(t.name);
}

const args = (list: unknown): string => {
  const a = nodes(list);
  return a.length ? `(${a.map((x) => `${name(x.name)}: ${value(x.value as Node)}`).join(', ')})` : '';
};

const directives = (list: unknown): string =>
  nodes(list)
    .map((d) => ` @${name(d.name)}${args(d.arguments)}`)
    .join('');

function selections(set: unknown): string {
  const s = nodes((set as { selections?: unknown } | undefined)?.selections);
  return s.length ? ` { ${s.map(selection).join(' ')} }` : '';
}

function selection(s: Node): string {
  switch (s.kind) {
    case 'Field': {
      const alias = s.alias ? `${name(s.alias)}: ` : '';
      return `${alias}${name(s.name)}${args(s.arguments)}${directives(s.directives)}${selections(s.selectionSet)}`;
    }
    case 'FragmentSpread':
      return `...${name(s.name)}${directives(s.directives)}`;
    case 'InlineFragment': {
      const on = s.typeCondition ? ` on ${type(s.typeCondition as Node)}` : '';
      return `...${on}${directives(s.directives)}${selections(s.selectionSet)}`;
    }
    default:
      return '';
  }
}

function definition(d: Node): string {
  if (d.kind === 'OperationDefinition') {
    const vars = nodes(d.variableDefinitions).map(
      (v) => `${value(v.variable as Node)}: ${type(v.type as Node)}${v.defaultValue ? ` = ${value(v.defaultValue as Node)}` : ''}${directives(v.directives)}`,
    );
    const head = `${String(d.operation)}${d.name ? ` ${name(d.name)}` : ''}${vars.length ? `(${vars.join(', ')})` : ''}${directives(d.directives)}`;
    return `${head}${selections(d.selectionSet)}`;
  }
  if (d.kind === 'FragmentDefinition') {
    return `fragment ${name(d.name)} on ${type(d.typeCondition as Node)}${directives(d.directives)}${selections(d.selectionSet)}`;
  }
  // Schema definitions and extensions carry no request data and are not executed.
  return '';
}

const printed = new WeakMap<object, string>();

/** The document, literals hidden; documents are cached by servers, so each one is printed once. */
export function obfuscatedDocument(doc: unknown): string | undefined {
  if (doc === null || typeof doc !== 'object') return undefined;
  let s = printed.get(doc);
  if (s === undefined) {
    s = nodes((doc as { definitions?: unknown }).definitions)
      .map(definition)
      .filter((x) => x !== '')
      .join(' ');
    if (s.length > MAX_DOCUMENT) s = `${s.slice(0, MAX_DOCUMENT - 3)}...`;
    printed.set(doc, s);
  }
  return s || undefined;
}

export interface Operation {
  type?: string;
  name?: string;
}

/** The operation execute() runs: the one named `operationName`, or the document's only one. */
export function findOperation(doc: unknown, operationName: unknown): Operation {
  const ops = nodes((doc as { definitions?: unknown } | null | undefined)?.definitions).filter((d) => d.kind === 'OperationDefinition');
  const op = typeof operationName === 'string' && operationName ? ops.find((o) => name(o.name) === operationName) : ops.length === 1 ? ops[0] : undefined;
  if (!op) return {};
  const n = op.name ? name(op.name) : '';
  return { type: typeof op.operation === 'string' ? op.operation : undefined, name: n || undefined };
}
