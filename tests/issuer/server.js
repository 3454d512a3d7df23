// A real OAuth 2.0 authorization server for tokenward's revocation tests:
// oidc-provider with the client_credentials grant, opaque access tokens
// bound to a resource (RFC 8707), revocation (RFC 7009) and introspection
// (RFC 7662).
//
//   node server.js CONFIG.json
//
// CONFIG.json (written by the test at run time, secrets minted there):
//   { "port": 0, "ready_file": "/tmp/x/ready",
//     "revokers": ["tokenward"],       // may revoke anyone's tokens
//     "clients": [ { "client_id": "...", "client_secret": "...",
//                    "auth": "client_secret_basic" }, ... ],
//     "resources": [ "https://api.example.test/" ] }
//
// The bound port is written to ready_file once the server listens.
// GET /resource with "Authorization: Bearer T" is a stand-in resource
// server: 200 when T is an active token for a configured resource.
import fs from 'node:fs';
import http from 'node:http';
import Provider from 'oidc-provider';

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const resources = new Set(cfg.resources || []);
const revokers = new Set(cfg.revokers || ['tokenward']);

async function main() {
  // The issuer URL must carry the port, so bind first, then build.
  const server = http.createServer();
  await new Promise((resolve) => server.listen(cfg.port || 0, '127.0.0.1', resolve));
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;

  const provider = new Provider(issuer, {
    clients: cfg.clients.map((c) => ({
      client_id: c.client_id,
      client_secret: c.client_secret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: c.auth || 'client_secret_basic',
    })),
    ttl: { ClientCredentials: 3600 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // Any authenticated client may introspect (the test's resource
        // server and tokenward itself).
        allowedPolicy: async () => true,
      },
      revocation: {
        enabled: true,
        // Default: only the owning client may revoke. tokenward revokes
        // tokens issued to agents, so its own client is allowed too.
        allowedPolicy: async (ctx, client, token) =>
          revokers.has(client.clientId) || client.clientId === token.clientId,
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => true,
        getResourceServerInfo: async (ctx, resourceIndicator) => {
          if (!resources.has(resourceIndicator)) {
            throw new Provider.errors.InvalidTarget();
          }
          return {
            scope: 'api:read api:write',
            audience: resourceIndicator,
            accessTokenTTL: 3600,
            accessTokenFormat: 'opaque',
          };
        },
      },
    },
  });
  provider.on('server_error', (ctx, err) => console.error('server_error', err));

  const callback = provider.callback();
  server.on('request', async (req, res) => {
    if (req.method === 'GET' && req.url === '/resource') {
      const m = /^Bearer (.+)$/.exec(req.headers.authorization || '');
      const token = m && await provider.ClientCredentials.find(m[1]);
      const ok = token && token.isValid && resources.has(token.aud);
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(JSON.stringify(ok ? { ok: true, aud: token.aud } : { error: 'invalid_token' }));
      return;
    }
    callback(req, res);
  });

  if (cfg.ready_file) {
    fs.writeFileSync(`${cfg.ready_file}.tmp`, String(port));
    fs.renameSync(`${cfg.ready_file}.tmp`, cfg.ready_file);
  }
  console.error(`issuer listening on ${issuer}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
