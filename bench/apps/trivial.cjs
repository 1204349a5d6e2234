// Startup bench: a CommonJS app that loads http and pg and exits. The only
// extra is the line reporting this process's peak RSS (KiB) at exit.
require('node:http');
require('pg');
process.on('exit', () => require('node:fs').writeSync(1, `MAXRSS ${process.resourceUsage().maxRSS}\n`));
