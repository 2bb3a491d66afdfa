// node-oidc-provider as latchkey-bench's peer: client credentials, RS256 JWT access tokens,
// one worker process per core (node:cluster) so that it uses the machine as Latchkey does.
// Usage: node server.mjs PORT. Prints "ready" once every worker listens.
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { generateKeyPairSync } from 'node:crypto';

const port = Number(process.argv[2]);
const audience = 'https://api.bench.example/';

if (cluster.isPrimary) {
  // One signing key for every worker, as one issuer.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench', alg: 'RS256', use: 'sig' };
  const workers = availableParallelism();
  let listening = 0;
  for (let i = 0; i < workers; i += 1) {
    const worker = cluster.fork({ BENCH_JWK: JSON.stringify(jwk) });
    worker.on('listening', () => {
      listening += 1;
      if (listening === workers) console.log('ready');
    });
  }
  cluster.on('exit', (_, code) => {
    if (code !== 0) process.exit(code ?? 1);
  });
} else {
  const { default: Provider } = await import('oidc-provider');
  const provider = new Provider(`http://127.0.0.1:${port}`, {
    clients: [{
      client_id: 'bench',
      client_secret: 'bench-secret-0123456789-0123456789-0123456789',
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_post',
    }],
    jwks: { keys: [JSON.parse(process.env.BENCH_JWK)] },
    cookies: { keys: ['bench-cookie-key-0123456789'] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'read:things',
          audience,
          accessTokenFormat: 'jwt',
          accessTokenTTL: 86400,
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
  });
  provider.listen(port, '127.0.0.1');
}
