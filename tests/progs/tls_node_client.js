// A node HTTPS client for the live TLS tests: one https.request to
// 127.0.0.1:PORT with SNI api.tokenward.test, whose extra header line
// "Name: value" is the first line of stdin (a pipe, never argv or the
// environment); it connects only once that line has come.
//   node tls_node_client.js PORT
'use strict';
const https = require('https');
const [port] = process.argv.slice(2);

function go(h) {
  const headers = {};
  const i = h.indexOf(':');
  if (i > 0) headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
  const req = https.request({ host: '127.0.0.1', port: Number(port), path: '/', method: 'GET',
    servername: 'api.tokenward.test', rejectUnauthorized: false, headers, agent: false },
    (res) => { res.resume(); res.on('end', () => process.exit(0)); });
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
