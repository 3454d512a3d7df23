// A node HTTPS client for the live TLS tests: one https.request to
// 127.0.0.1:PORT with SNI api.tokenward.test, the extra header line
// "Name: value" from $TW_HEADER (never argv). With "wait" it first reads
// one line from stdin.  node tls_node_client.js PORT [wait]
'use strict';
const https = require('https');
const [port, mode] = process.argv.slice(2);

function go() {
  const headers = {};
  const h = process.env.TW_HEADER || '';
  const i = h.indexOf(':');
  if (i > 0) headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
  const req = https.request({ host: '127.0.0.1', port: Number(port), path: '/', method: 'GET',
    servername: 'api.tokenward.test', rejectUnauthorized: false, headers, agent: false },
    (res) => { res.resume(); res.on('end', () => process.exit(0)); });
  req.on('error', (e) => { console.error(e.message); process.exit(1); });
  req.end();
}

if (mode === 'wait') process.stdin.once('data', () => { process.stdin.pause(); go(); });
else go();
