/**
 * The exporter alone in a process, bundled as the Lambda is, so its peak RSS is its own. `idle`
 * loads the same bundle and exits: the baseline the export's memory is compared with.
 */
import { loadConfig } from '../shared/config';
import { exportInventory } from '../shared/exporter/exportInventory';
import { createDependencies } from '../shared/dependencies';

const mode = process.argv[2];
const started = performance.now();
let manifest: { numbers: number; apiCalls: number; pages: number } | undefined;
if (mode === 'export') {
  const config = loadConfig();
  const result = await exportInventory(createDependencies(config), {
    accountIds: async () => config.RINGCX_ACCOUNT_IDS ?? [],
    pageSize: config.EXPORT_PAGE_SIZE,
    remainingMs: () => 15 * 60_000,
    safetyMs: 30_000,
  });
  if ('apiCalls' in result) manifest = result;
}
process.stdout.write(
  `${JSON.stringify({ mode, seconds: (performance.now() - started) / 1000, numbers: manifest?.numbers ?? 0, apiCalls: manifest?.apiCalls ?? 0, pages: manifest?.pages ?? 0, maxRssMb: process.resourceUsage().maxRSS / 1024 })}\n`,
);
process.exit(0);
