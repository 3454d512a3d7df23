// A node HTTP/2-over-TLS client for the live tests: one GET on an
// http2.connect session to https://127.0.0.1:PORT (ALPN h2), whose extra
// header line "Name: value" is the first line of stdin (a pipe, never argv
// or the environment); it connects only once that line has come. nghttp2
// inside node HPACK-codes the headers, so the token is not in the bytes
// handed to SSL_write: only the monitor's HPACK decoder sees it.
//   node tls_node_h2_client.js PORT
'use strict';
const http2 = require('http2');
const [port] = process.argv.slice(2);

function go(h) {
  const headers = { ':path': '/index.html', ':method': 'GET' };
  const i = h.indexOf(':');
  if (i > 0) headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
  const s = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false });
  s.on('error', (e) => { console.error(e.message); process.exit(1); });
  const req = s.request(headers);
  req.on('response', () => {});
  req.resume();
  req.on('end', () => { s.close(); process.exit(0); });
  req.on('error', (e) => { console.error(e.message); process.exit(1); });
  req.end();
}

let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  buf += d;
  const nl = buf.indexOf('\n');
  if (nl >= 0) { process.stdin.pause(); process.stdin.removeAllListeners('data'); go(buf.slice(0, nl)); }
});
