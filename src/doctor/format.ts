/** The doctor's report for people: sections in the order a user debugs, problems last and restated. */
import type { DoctorResult } from './index';
import type { ModuleRecord } from '../module-watcher';

const OK = '✓';
const BAD = '✗';
const NOTE = '!';

function pad(s: string, n: number): string {
  return s.length >= n ? s + ' ' : s + ' '.repeat(n - s.length);
}

function moduleLine(m: ModuleRecord): string {
  const what = `${m.module}${m.builtin ? ' (Node builtin)' : m.version ? ' ' + m.version : ''}`;
  const how = m.how === 'fetch' ? 'first use' : m.how === 'bundle' ? 'in bundle' : (m.how ?? 'require/import');
  const mark = m.status === 'patched' ? OK : m.status === 'covered' ? '·' : m.status === 'skipped' || m.status === 'failed' ? BAD : NOTE;
  const verdict =
    m.status === 'patched'
      ? `patched by "${m.instrumentation}"${m.patchedBy?.length ? ` (${m.patchedBy.join(', ')})` : ''}${m.partial ? `; ${m.partial}` : ''}`
      : m.status === 'covered'
        ? `traced by "${m.instrumentation}" through ${m.coveredBy}; ${m.reason}`
        : m.status === 'skipped'
          ? `NOT patched: ${m.reason}`
          : m.status === 'failed'
            ? `patch FAILED: ${m.reason}`
            : `not patched: ${m.reason}`;
  return `  ${mark} ${pad(what, 28)}${pad(`(${how}, +${m.atMs} ms)`, 22)}${verdict}${m.status === 'patched' && m.foreignWrapper ? ` [${m.reason}]` : ''}`;
}

export function formatHuman(r: DoctorResult): string {
  const out: string[] = [];
  const line = (s = ''): void => void out.push(s);
  line(`otel-agent doctor ${r.doctor.agentVersion} (Node ${r.doctor.node}, ${r.doctor.platform})`);
  line();

  const c = r.config.resolved;
  line('Configuration');
  line(
    `  service ${c.serviceName}; exporters ${c.exporters.join(',') || 'none'}; ${c.exporters.includes('otlp') ? `OTLP ${c.protocol} ${c.endpoint}; ` : ''}sampler ${c.sampler}; propagators ${c.propagators.join(',') || 'none'}`,
  );
  line(
    `  instrumentations on: ${c.instrumentations.enabled.join(', ') || 'none'}${c.instrumentations.disabled.length ? `; off: ${c.instrumentations.disabled.join(', ')}` : ''}`,
  );
  const width = Math.max(...r.config.variables.map((v) => v.name.length)) + 2;
  const fromEnv = r.config.variables.filter((v) => v.source === 'env');
  const fromFile = r.config.variables.filter((v) => v.source === 'file');
  if (fromFile.length) {
    line('  set in the configuration file:');
    for (const v of fromFile) {
      line(`    ${v.warning ? BAD : ' '} ${pad(v.name, width)}${v.value}   (${v.origin ?? 'OTEL_CONFIG_FILE'})`);
      if (v.warning) line(`      ${v.warning}`);
    }
  }
  if (fromEnv.length || !fromFile.length) line(fromEnv.length ? '  set in the environment:' : '  no OTEL_* variable is set: everything below is a default');
  for (const v of fromEnv) {
    line(`    ${v.warning ? BAD : ' '} ${pad(v.name, width)}${v.value}`);
    if (v.warning) line(`      ${v.warning}`);
  }
  line('  defaults:');
  for (const v of r.config.variables.filter((x) => x.source === 'default')) line(`      ${pad(v.name, width)}${v.value}`);
  line();

  line('Exporter endpoint');
  if (r.endpoints.length === 0) line('  (no network exporter configured)');
  for (const e of r.endpoints) {
    const kind = e.exporter === 'otlp' ? `OTLP ${e.protocol}` : 'Zipkin';
    const timing = [e.connectMs !== undefined ? `connect ${e.connectMs} ms` : '', e.totalMs !== undefined ? `total ${e.totalMs} ms` : '']
      .filter(Boolean)
      .join(', ');
    if (e.accepts) line(`  ${OK} ${kind} ${e.url}: accepted an empty export (${e.status})${timing ? `, ${timing}` : ''}`);
    else {
      line(
        `  ${BAD} ${kind} ${e.url}: ${e.reachable ? 'reachable, but did not accept an export' : 'NOT reachable'}: ${e.error ?? 'unknown error'}${timing ? ` (${timing})` : ''}`,
      );
      if (e.hint) line(`      hint: ${e.hint}`);
    }
  }
  line();

  const p = r.packages;
  line(`Instrumentable packages (from ${p.appDir})`);
  for (const i of p.instrumentations) {
    const off = i.enabled ? '' : ` [${i.disabledReason}]`;
    if (i.status === 'builtin') {
      line(
        `  ${OK} ${pad(i.instrumentation, 12)}${i.channels ? 'diagnostics channels (global fetch, undici package), always available' : 'Node builtin, always available'}${off}`,
      );
    } else if (i.status === 'not-installed') {
      continue;
    } else if (i.status === 'unknown') {
      line(`  ${NOTE} ${pad(i.instrumentation, 12)}${i.error ?? 'unknown'}${off}`);
    } else {
      const via = i.modules.filter((m) => m.supported).map((m) => `${m.name} ${m.version ?? '?'}`);
      for (const m of i.modules) {
        const what = pad(`${m.name} ${m.version ?? '?'}`, 34);
        const ranges = `(${m.ranges.join(' || ')})`;
        if (m.supported) line(`  ${OK} ${pad(i.instrumentation, 12)}${what}supported ${ranges}${off}`);
        // e.g. redis@4+ is traced through @redis/client: its own range is for the old redis@2-3 client.
        else if (via.length) line(`  · ${pad(i.instrumentation, 12)}${what}not patched itself ${ranges}; traced through ${via.join(', ')}${off}`);
        else line(`  ${BAD} ${pad(i.instrumentation, 12)}${what}NOT supported ${ranges}${off}`);
      }
    }
  }
  const missing = p.instrumentations.filter((i) => i.status === 'not-installed').map((i) => i.instrumentation);
  if (missing.length) line(`    not installed: ${missing.join(', ')}`);
  line();

  if (r.run) {
    const run = r.run;
    line(`App run: ${run.command}`);
    line(
      `  ${run.timedOut ? `stopped by the doctor after ${Math.round(run.durationMs / 100) / 10} s (still running)` : `exited with code ${run.exitCode}${run.signal ? ` (signal ${run.signal})` : ''} after ${Math.round(run.durationMs / 100) / 10} s`}`,
    );
    const rep = run.report;
    if (!rep) line(`  ${BAD} the agent did not run in the app (no report)`);
    else {
      line(
        `  ${OK} agent ${rep.agentVersion} started: service "${rep.serviceName}", hooks ${rep.hooks.cjs ? 'CJS' : 'none'}${rep.hooks.esm === 'off' ? '' : rep.hooks.esm === 'sync' ? ' + ESM (in-thread sync hooks)' : ' + ESM (loader thread)'}`,
      );
      if (rep.modules.length === 0) line('  (no instrumented module was loaded)');
      for (const m of rep.modules) line(moduleLine(m));
      for (const cfl of rep.conflicts) line(`  ${BAD} ${cfl}`);
      if (rep.testSpan) {
        if (rep.testSpan.exported) line(`  ${OK} test span "otel-agent doctor" (trace ${rep.testSpan.traceId}) was accepted by ${rep.exporters.join(', ')}`);
        else if (rep.exporters.length)
          line(`  ${BAD} test span "otel-agent doctor" was NOT accepted by ${rep.exporters.join(', ')}${rep.testSpan.error ? `: ${rep.testSpan.error}` : ''}`);
      }
      if (rep.signals) {
        const ls = rep.signals.listeners;
        line(`  signal listeners (in the order Node calls them):${ls.length ? '' : ' none'}`);
        for (const sigName of [...new Set(ls.map((l) => l.signal))])
          line(
            `    ${pad(sigName, 8)}${ls
              .filter((l) => l.signal === sigName)
              .map((l) => l.owner)
              .join(', ')}`,
          );
        for (const s of rep.signals.seen)
          line(
            `  ${s.agentActed ? OK : NOTE} ${s.signal} arrived: ${s.agentActed ? `the agent flushed and let it end the process${s.signalExitV3 + s.signalExitV4 ? ' (beside signal-exit)' : ''}` : "the app's listener decides; the agent flushes at exit"}`,
          );
      }
      if (rep.stats)
        line(`  spans: ${rep.stats.started} started, ${rep.stats.exported} exported, ${rep.stats.dropped} dropped, ${rep.stats.failed} lost in failed exports`);
    }
    if (run.agentLines.length) {
      line('  agent messages:');
      for (const l of run.agentLines.slice(0, 30)) line(`    ${l}`);
    }
    if (run.stderrTail.length) {
      line('  last lines of the app stderr:');
      for (const l of run.stderrTail) line(`    ${l}`);
    }
    line();
  }

  const problems = r.findings.filter((f) => f.level === 'problem');
  const notes = r.findings.filter((f) => f.level === 'note');
  if (notes.length) {
    line('Notes');
    for (const n of notes) line(`  ${NOTE} ${n.message}`);
    line();
  }
  if (problems.length) {
    line(`${problems.length} problem${problems.length > 1 ? 's' : ''} found:`);
    for (const pr of problems) line(`  ${BAD} [${pr.section}] ${pr.message}`);
  } else {
    line(`${OK} No problems found.${r.run ? '' : ' Give the app entry file (otel-agent doctor app.js) to also check what gets patched inside the app.'}`);
  }
  return out.join('\n') + '\n';
}
