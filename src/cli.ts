#!/usr/bin/env node
/**
 * The package's command line: `npx otel-agent doctor [entry] [--json] [--timeout <s>] [--no-run] [-- app args]`.
 * Exit codes: 0 no problem found, 1 problems found (listed), 2 usage error
 * (unknown option or command, missing entry file), 3 the doctor itself failed
 * (internal error, printed on stderr). Kept in step with USAGE below and
 * docs/troubleshooting.md.
 */
import { entryError, runDoctor } from './doctor/index';
import { formatHuman } from './doctor/format';
import { AGENT_VERSION } from './version';

const USAGE = `Usage: otel-agent doctor [options] [app entry file] [-- app arguments]

Checks what @x/otel-agent would do with this environment:
  - the resolved configuration (every variable, where its value came from, bad values)
  - whether the exporter endpoint accepts OTLP (and how long it takes)
  - which installed packages can be traced, and whether their versions are supported
  - given an entry file: runs the app under the agent for a few seconds and reports
    which modules were patched and whether a test span reached the exporter

Options:
  --json            machine-readable output
  --timeout <s>     how long to let the app run (default 5 seconds)
  --no-run          do not start the app, only inspect its directory
  --config <file>   validate this configuration file (OTEL_CONFIG_FILE) and use it
  -h, --help        this text
  -v, --version     the agent version

Exit code: 0 when no problem was found, 1 when problems were found, 2 on a usage error,
3 when the doctor itself failed (an internal error, printed on stderr).
`;

interface Args {
  command?: string;
  entry?: string;
  appArgs: string[];
  json: boolean;
  timeoutMs: number;
  run: boolean;
  configFile?: string;
}

function parse(argv: string[]): Args | string {
  const a: Args = { appArgs: [], json: false, timeoutMs: 5000, run: true };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    if (x === '--') {
      a.appArgs = argv.slice(i + 1);
      break;
    }
    if (x === '--json') a.json = true;
    else if (x === '--no-run') a.run = false;
    else if (x === '--timeout' || x.startsWith('--timeout=')) {
      const v = x.includes('=') ? x.slice(x.indexOf('=') + 1) : argv[++i];
      const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(v ?? '');
      if (!m) return `--timeout needs a number of seconds (e.g. --timeout 10), got ${JSON.stringify(v ?? '')}`;
      a.timeoutMs = m[2] === 'ms' ? Number(m[1]) : Number(m[1]) * 1000;
    } else if (x === '--config' || x.startsWith('--config=')) {
      const v = x.includes('=') ? x.slice(x.indexOf('=') + 1) : argv[++i];
      if (!v) return '--config needs the path of a configuration file (e.g. --config otel.yaml)';
      a.configFile = v;
    } else if (x.startsWith('-')) return `unknown option ${x}`;
    else if (!a.command) a.command = x;
    else if (!a.entry) a.entry = x;
    else return `unexpected argument ${x} (app arguments go after --)`;
  }
  return a;
}

function finish(text: string, code: number, toStderr = false): void {
  const stream = toStderr ? process.stderr : process.stdout;
  // Exit only once the output is written: stdout may be a pipe.
  stream.write(text, () => process.exit(code));
}

async function main(argv: string[]): Promise<void> {
  if (argv.includes('-h') || argv.includes('--help') || argv[0] === 'help') return finish(USAGE, 0);
  if (argv[0] === '-v' || argv[0] === '--version') return finish(AGENT_VERSION + '\n', 0);
  const a = parse(argv);
  if (typeof a === 'string') return finish(`otel-agent: ${a}\n\n${USAGE}`, 2, true);
  if (a.command !== 'doctor') return finish(`otel-agent: ${a.command ? `unknown command ${a.command}` : 'no command given'}\n\n${USAGE}`, 2, true);
  const cwd = process.cwd();
  if (a.entry) {
    const err = entryError(cwd, a.entry);
    if (err) return finish(`otel-agent doctor: ${err}\n`, 2, true);
  }
  const result = await runDoctor({ entry: a.entry, args: a.appArgs, timeoutMs: a.timeoutMs, run: a.run, distDir: __dirname, cwd, configFile: a.configFile });
  finish(a.json ? JSON.stringify(result, null, 2) + '\n' : formatHuman(result), result.ok ? 0 : 1);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  finish(`otel-agent: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`, 3, true);
});
