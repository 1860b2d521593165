// Official tus server (@tus/server + @tus/file-store) for the integration tests.
//
// Usage: node server.js [STORAGE_DIR]
//   STORAGE_DIR  where uploads are stored (default: $TUS_STORAGE_DIR, else ./uploads)
// Optional environment:
//   TUS_EXPIRATION_MS  FileStore expirationPeriodInMilliseconds (enables Upload-Expires)
//   TUS_MAX_SIZE       Server maxSize in bytes (advertised as Tus-Max-Size; larger uploads get 413)
//   TUS_PORT           port to bind (default 0: an ephemeral port)
//
// Binds 127.0.0.1 only and prints exactly one line to stdout once listening:
//   LISTENING 127.0.0.1:PORT
// Exits when stdin closes (so it dies with the process that spawned it) and on SIGTERM/SIGINT.
import http from 'node:http';
import path from 'node:path';
import { Server } from '@tus/server';
import { FileStore } from '@tus/file-store';

const directory = path.resolve(process.argv[2] ?? process.env.TUS_STORAGE_DIR ?? 'uploads');

function envInt(name) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) {
    console.error(`server.js: ${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return n;
}

const expirationPeriodInMilliseconds = envInt('TUS_EXPIRATION_MS');
const maxSize = envInt('TUS_MAX_SIZE');
const port = envInt('TUS_PORT') ?? 0;

const serverOptions = {
  path: '/files',
  datastore: new FileStore({ directory, expirationPeriodInMilliseconds }),
};
if (maxSize !== undefined) serverOptions.maxSize = maxSize;
const tus = new Server(serverOptions);

const httpServer = http.createServer((req, res) => {
  tus.handle(req, res).catch((err) => {
    console.error('server.js: handler error:', err);
    if (!res.headersSent) res.writeHead(500);
    res.end();
  });
});

httpServer.on('error', (err) => {
  console.error('server.js: http server error:', err);
  process.exit(1);
});

httpServer.listen(port, '127.0.0.1', () => {
  const addr = httpServer.address();
  process.stdout.write(`LISTENING 127.0.0.1:${addr.port}\n`);
});

function shutdown(code) {
  httpServer.closeAllConnections?.();
  process.exit(code);
}

// Die with the parent: it holds the write end of our stdin.
process.stdin.on('end', () => shutdown(0));
process.stdin.on('close', () => shutdown(0));
process.stdin.on('error', () => shutdown(0));
process.stdin.resume();

process.on('SIGTERM', () => shutdown(0));
process.on('SIGINT', () => shutdown(0));
