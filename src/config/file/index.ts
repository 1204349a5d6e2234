/**
 * OTEL_CONFIG_FILE: reads the file (parse.ts) and maps the configuration
 * model onto the spec's variables (model.ts). Bundled on its own
 * (dist/config-file.cjs), so the YAML parser is loaded only when a file is named.
 */
import { FileError, readConfigFile } from './parse';
import { mapModel, type Mapped } from './model';

export type { Mapped } from './model';

export type FileResult = { ok: true; mapped: Mapped } | { ok: false; error: string };

export function loadConfigFile(path: string, env: Readonly<Record<string, string | undefined>>): FileResult {
  try {
    return { ok: true, mapped: mapModel(readConfigFile(path, env), path) };
  } catch (e) {
    if (e instanceof FileError) return { ok: false, error: e.message };
    return { ok: false, error: `could not be read (${e instanceof Error ? e.message : String(e)})` };
  }
}
