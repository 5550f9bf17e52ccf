import { fileURLToPath } from 'node:url';

/** The module whose `handler` export is the function, as the stack bundles it: functions/<name>/app.ts. */
export const functionEntry = (name: string): string => fileURLToPath(new URL(`../../functions/${name}/app.ts`, import.meta.url));
