import { parseArgs } from 'node:util';
import { startRingCxSimulator } from './server';

/** `npm run simulator -- --port 8090 --budget 120`: a standalone simulated RingCX tenant. */
const { values } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.RINGCX_SIM_PORT ?? '8090' },
    budget: { type: 'string', default: '120' },
    'token-lifetime-ms': { type: 'string', default: String(5 * 60_000) },
    'latency-ms': { type: 'string', default: '0' },
    'time-scale': { type: 'string', default: '1' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log(`RingCX simulator: a demo tenant on http://127.0.0.1:<port>

  --port N               port to listen on (default 8090, or RINGCX_SIM_PORT)
  --budget N             API requests per principal per minute (default 120)
  --token-lifetime-ms N  access-token lifetime (default 300000)
  --latency-ms N         added to every API response (default 0)
  --time-scale N         divide RingCX's durations by N: the budget window, the token lifetime and
                         the exchange window (default 1; match the twin's --time-scale)

Admin: GET /_sim/state, /_sim/log, /_sim/counters, /_sim/knobs; PATCH /_sim/knobs; POST /_sim/reset.
Credentials of the demo tenant: API token "demo-api-token"; JWT app demo-client-id / demo-client-secret / demo-jwt-credential.`);
  process.exit(0);
}

const timeScale = Number(values['time-scale']);
if (!(Number.isFinite(timeScale) && timeScale > 0)) {
  console.error(`--time-scale takes a positive number, got "${values['time-scale']}"`);
  process.exit(2);
}
const scaled = (ms: number) => Math.max(1, Math.round(ms / timeScale));
const sim = await startRingCxSimulator({
  port: Number(values.port),
  knobs: {
    rateLimit: { budget: Number(values.budget), windowMs: scaled(60_000) },
    exchangeLimit: { windowMs: scaled(60_000) },
    tokenLifetimeMs: scaled(Number(values['token-lifetime-ms'])),
    latencyMs: Number(values['latency-ms']),
  },
});
console.log(`RingCX simulator listening on ${sim.url} (Ctrl-C to stop)`);
const stop = () => void sim.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
