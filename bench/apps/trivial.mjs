// Startup bench: an ES module app that imports http and pg and exits. The only
// extra is the line reporting this process's peak RSS (KiB) at exit.
import 'node:http';
import 'pg';
import { writeSync } from 'node:fs';
process.on('exit', () => writeSync(1, `MAXRSS ${process.resourceUsage().maxRSS}\n`));
