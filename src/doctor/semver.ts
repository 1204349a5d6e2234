/**
 * Just enough of npm's range semantics to answer "is this installed version
 * inside an instrumentation's supportedVersions?" the way the instrumentation
 * itself will, without bundling a semver package into the agent.
 *
 * Covers what instrumentation ranges use: comparators (<, <=, >, >=, =),
 * caret, tilde, x-ranges and partial versions, hyphen ranges, `*`, `||`, and
 * npm's prerelease rule (a prerelease only matches a comparator set that names
 * a prerelease of the same major.minor.patch, unless includePrerelease).
 */

interface Ver {
  major: number;
  minor: number;
  patch: number;
  pre: (string | number)[];
}

interface Comparator {
  op: '<' | '<=' | '>' | '>=' | '=';
  v: Ver;
}

const FULL = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

export function parseVersion(s: string): Ver | undefined {
  const m = FULL.exec(s.trim().replace(/^=+/, ''));
  if (!m) return undefined;
  return {
    major: Number(m[1]),
    minor: Number(m[2]),
    patch: Number(m[3]),
    pre: m[4] ? m[4].split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p)) : [],
  };
}

function comparePre(a: Ver['pre'], b: Ver['pre']): number {
  if (!a.length && !b.length) return 0;
  // A release sorts after any of its prereleases.
  if (!a.length) return 1;
  if (!b.length) return -1;
  for (let i = 0; ; i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined && y === undefined) return 0;
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x < y ? -1 : 1;
    if (typeof x === 'number') return -1;
    if (typeof y === 'number') return 1;
    return x < y ? -1 : 1;
  }
}

function compare(a: Ver, b: Ver): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch || comparePre(a.pre, b.pre);
}

const v = (major: number, minor: number, patch: number, pre: Ver['pre'] = []): Ver => ({ major, minor, patch, pre });
/** The lowest version with that major.minor.patch: `<2.0.0-0` excludes 2.0.0's prereleases too. */
const floor = (major: number, minor: number, patch: number): Ver => v(major, minor, patch, [0]);

interface Partial {
  major?: number;
  minor?: number;
  patch?: number;
  pre: Ver['pre'];
}

function parsePartial(s: string): Partial | undefined {
  const m = /^v?(\d+|[xX*])?(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/.exec(s);
  if (!m) return undefined;
  const num = (x: string | undefined): number | undefined => (x === undefined || /^[xX*]$/.test(x) ? undefined : Number(x));
  const major = num(m[1]);
  const minor = major === undefined ? undefined : num(m[2]);
  const patch = minor === undefined ? undefined : num(m[3]);
  const pre = patch !== undefined && m[4] ? m[4].split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p)) : [];
  return { major, minor, patch, pre };
}

/** One token of a comparator set (e.g. `^1.2`, `>=3`, `1.x`) as plain comparators; undefined = cannot parse. */
function expand(token: string): Comparator[] | undefined {
  const m = /^(\^|~>?|<=|>=|<|>|=)?\s*(.*)$/.exec(token);
  if (!m) return undefined;
  const op = m[1] ?? '';
  const p = parsePartial(m[2] ?? '');
  if (!p) return undefined;
  const { major, minor, patch, pre } = p;
  if (major === undefined) return op === '<' || op === '>' ? [{ op: '<', v: v(0, 0, 0, [0]) }] : [];
  if (op === '^') {
    const lo = v(major, minor ?? 0, patch ?? 0, pre);
    let hi: Ver;
    if (major > 0 || minor === undefined) hi = floor(major + 1, 0, 0);
    else if (minor > 0 || patch === undefined) hi = floor(0, minor + 1, 0);
    else hi = floor(0, 0, patch + 1);
    return [
      { op: '>=', v: lo },
      { op: '<', v: hi },
    ];
  }
  if (op === '~' || op === '~>') {
    const lo = v(major, minor ?? 0, patch ?? 0, pre);
    const hi = minor === undefined ? floor(major + 1, 0, 0) : floor(major, minor + 1, 0);
    return [
      { op: '>=', v: lo },
      { op: '<', v: hi },
    ];
  }
  if (minor === undefined || patch === undefined) {
    // Partial version: a range covering everything it leaves open.
    const lo = v(major, minor ?? 0, 0);
    const hi = minor === undefined ? floor(major + 1, 0, 0) : floor(major, minor + 1, 0);
    switch (op) {
      case '':
      case '=':
        return [
          { op: '>=', v: lo },
          { op: '<', v: hi },
        ];
      case '>=':
        return [{ op: '>=', v: lo }];
      case '>':
        return [{ op: '>=', v: hi }];
      case '<':
        return [{ op: '<', v: floor(lo.major, lo.minor, 0) }];
      case '<=':
        return [{ op: '<', v: hi }];
    }
    return undefined;
  }
  const exact = v(major, minor, patch, pre);
  return [{ op: (op || '=') as Comparator['op'], v: exact }];
}

function parseSet(set: string): Comparator[] | undefined {
  const s = set.trim();
  const hyphen = /^(\S+)\s+-\s+(\S+)$/.exec(s);
  if (hyphen) {
    const lo = expand('>=' + hyphen[1]);
    const hiP = parsePartial(hyphen[2]!);
    if (!lo || !hiP || hiP.major === undefined) return lo;
    const hi: Comparator =
      hiP.minor === undefined
        ? { op: '<', v: floor(hiP.major + 1, 0, 0) }
        : hiP.patch === undefined
          ? { op: '<', v: floor(hiP.major, hiP.minor + 1, 0) }
          : { op: '<=', v: v(hiP.major, hiP.minor, hiP.patch, hiP.pre) };
    return [...lo, hi];
  }
  // Allow a space between an operator and its version (`>= 1.2.3`).
  const tokens = s
    .replace(/(\^|~>?|<=|>=|<|>|=)\s+/g, '$1')
    .split(/\s+/)
    .filter(Boolean);
  const out: Comparator[] = [];
  for (const t of tokens) {
    const c = expand(t);
    if (!c) return undefined;
    out.push(...c);
  }
  return out;
}

function test(c: Comparator, ver: Ver): boolean {
  const d = compare(ver, c.v);
  switch (c.op) {
    case '<':
      return d < 0;
    case '<=':
      return d <= 0;
    case '>':
      return d > 0;
    case '>=':
      return d >= 0;
    default:
      return d === 0;
  }
}

/** True when `version` is inside `range`; false for unparsable input (the instrumentation would not patch either). */
export function satisfies(version: string, range: string, includePrerelease = false): boolean {
  const ver = parseVersion(version);
  if (!ver) return false;
  for (const part of range.split('||')) {
    const set = parseSet(part);
    if (!set) continue;
    if (!set.every((c) => test(c, ver))) continue;
    if (ver.pre.length && !includePrerelease) {
      const named = set.some(
        (c) =>
          c.v.pre.length > 0 &&
          !(c.v.pre.length === 1 && c.v.pre[0] === 0 && c.op === '<') &&
          c.v.major === ver.major &&
          c.v.minor === ver.minor &&
          c.v.patch === ver.patch,
      );
      if (!named) continue;
    }
    return true;
  }
  return false;
}

/** Same rule as InstrumentationBase: no version known means only `*` matches. */
export function supported(ranges: readonly string[], version: string | undefined, includePrerelease = false): boolean {
  if (version === undefined) return ranges.includes('*');
  return ranges.some((r) => satisfies(version, r, includePrerelease));
}
