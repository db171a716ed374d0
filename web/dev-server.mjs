// A development server for the console: serves web/ the way `straits serve`
// does (/ → index.html, /console/<path> → web/<path>, the same CSP and
// headers) and forwards /v1/* and /healthz to a running straits, so pages can
// be edited and reloaded without rebuilding the binary. Node only, no packages.
//
// Use:
//   STRAITS_URL=http://127.0.0.1:8080 node web/dev-server.mjs   # PORT=8088 by default
//   then open http://127.0.0.1:8088/ and paste a token (build/run/seed-tokens.json
//   holds the tokens of `make run`'s users).
// HOST (default 127.0.0.1) and PORT choose where it listens.
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs/promises';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const WEB = path.dirname(fileURLToPath(import.meta.url));
const PORT = Number(process.env.PORT || 8088);
const HOST = process.env.HOST || '127.0.0.1';
const UPSTREAM = new URL(process.env.STRAITS_URL || 'http://127.0.0.1:8080');

// The same headers as the server's console answers (docs: CONTRACT / operations.md).
const CONSOLE_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; " +
      "img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; " +
      "form-action 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-cache',
};
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.json': 'application/json',
  '.md': 'text/plain; charset=utf-8',
};

async function serveFile(res, rel) {
  // Resolve inside web/ only: ".." or an absolute path never escapes it.
  const file = path.resolve(WEB, '.' + path.posix.normalize('/' + rel));
  if (!file.startsWith(WEB + path.sep)) return notFound(res);
  try {
    const body = await fs.readFile(file);
    res.writeHead(200, {...CONSOLE_HEADERS,
                        'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream'});
    res.end(body);
  } catch {
    notFound(res);
  }
}

function notFound(res) {
  res.writeHead(404, {...CONSOLE_HEADERS, 'Content-Type': 'text/plain; charset=utf-8'});
  res.end('not found\n');
}

function forward(req, res) {
  const client = UPSTREAM.protocol === 'https:' ? https : http;
  const headers = {...req.headers, host: UPSTREAM.host};
  const up = client.request({
    protocol: UPSTREAM.protocol, hostname: UPSTREAM.hostname, port: UPSTREAM.port,
    method: req.method, path: req.url, headers,
  }, (upRes) => {
    res.writeHead(upRes.statusCode, upRes.headers);
    upRes.pipe(res);
  });
  up.on('error', (e) => {
    res.writeHead(502, {'Content-Type': 'application/json'});
    res.end(JSON.stringify({error: {code: 'unavailable', field: null,
                                    message: `dev-server: ${UPSTREAM.href} did not answer: ${e.message}`}}));
  });
  req.pipe(up);
}

http.createServer((req, res) => {
  const url = new URL(req.url, 'http://dev');
  if (url.pathname.startsWith('/v1/') || url.pathname === '/healthz') return forward(req, res);
  if (req.method !== 'GET' && req.method !== 'HEAD') return notFound(res);
  if (url.pathname === '/') return serveFile(res, 'index.html');
  if (url.pathname.startsWith('/console/')) {
    return serveFile(res, decodeURIComponent(url.pathname.slice('/console/'.length)));
  }
  return notFound(res);
}).listen(PORT, HOST, () => {
  console.log(`console at http://${HOST}:${PORT}/ (API from ${UPSTREAM.href})`);
});
