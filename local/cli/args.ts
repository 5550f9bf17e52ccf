import { EventTargetSchema } from '../../shared/contracts';
import { normalizeNumber } from '../../shared/domain/phoneNumber';

export type Stage = 'dev' | 'prod';

export interface TargetSpec {
  type: string;
  id: number;
}

export interface StartOptions {
  files: string[];
  plan: boolean;
  out: string | undefined;
  export: boolean;
  verbose: boolean;
  help: boolean;
  stage: Stage;
  timeScale: number;
  /** Undefined: derived from the stage's sizing (see defaultStallSeconds). */
  stallSeconds: number | undefined;
  reassign: { dnis: string; to: TargetSpec; expect: TargetSpec | null | undefined; by: string; reason: string } | undefined;
  /** `--apply-plan PLAN.json`: approve that saved plan (as `by`, for `reason`) and apply it. */
  applyPlan: { path: string; by: string; reason: string } | undefined;
}

const OPTIONS = {
  plan: { type: 'boolean' },
  out: { type: 'string' },
  'no-export': { type: 'boolean' },
  reassign: { type: 'string' },
  'apply-plan': { type: 'string' },
  to: { type: 'string' },
  expect: { type: 'string' },
  by: { type: 'string' },
  reason: { type: 'string' },
  verbose: { type: 'boolean' },
  stage: { type: 'string' },
  'time-scale': { type: 'string' },
  'stall-seconds': { type: 'string' },
  help: { type: 'boolean' },
} as const satisfies Record<string, { type: 'boolean' | 'string' }>;

type OptionName = keyof typeof OPTIONS;
const isKnown = (name: string): name is OptionName => Object.hasOwn(OPTIONS, name);

export const DEFAULT_EXAMPLE_FILE = 'examples/numbers.csv';

/**
 * Reads the command line without throwing: every mistake becomes one line in `errors`, so a user
 * sees all of them at once instead of fixing one per run.
 */
export function parseStartArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): { options: StartOptions; errors: string[] } {
  const errors: string[] = [];
  const values = new Map<OptionName, string | true>();
  const positionals: string[] = [];
  const looksLikeOption = (arg: string | undefined) => arg !== undefined && (arg === '-h' || (arg.startsWith('--') && isKnown(arg.slice(2).split('=')[0] ?? '')));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-h') {
      values.set('help', true);
      continue;
    }
    if (!arg.startsWith('-') || arg === '-' || /^-\d/.test(arg)) {
      positionals.push(arg);
      continue;
    }
    const equals = arg.indexOf('=');
    const name = arg.startsWith('--') ? arg.slice(2, equals === -1 ? undefined : equals) : arg.slice(1);
    const rawName = arg.startsWith('--') ? `--${name}` : arg;
    const inline = arg.startsWith('--') && equals !== -1 ? arg.slice(equals + 1) : undefined;
    if (!arg.startsWith('--') || !isKnown(name)) {
      errors.push(`unknown option ${rawName} (see --help)`);
      continue;
    }
    if (OPTIONS[name].type === 'boolean') {
      if (inline !== undefined) errors.push(`${rawName} takes no value (got "${inline}")`);
      values.set(name, true);
      continue;
    }
    // A flag right after a flag that needs a value is a missing value, not the value.
    let value = inline;
    if (value === undefined && i + 1 < argv.length && !looksLikeOption(argv[i + 1])) value = argv[++i];
    if (value === undefined) {
      errors.push(`${rawName} needs a value (see --help)`);
      continue;
    }
    if (values.has(name)) errors.push(`${rawName} is given twice`);
    values.set(name, value);
  }
  const text = (name: OptionName) => {
    const value = values.get(name);
    return typeof value === 'string' ? value : undefined;
  };

  const stageText = text('stage') ?? 'dev';
  if (stageText !== 'dev' && stageText !== 'prod') errors.push(`--stage takes dev or prod (got "${stageText}")`);

  const timeScale = positiveNumber(text('time-scale'), '--time-scale', errors) ?? 1;
  const stallSeconds = positiveNumber(text('stall-seconds'), '--stall-seconds', errors);

  const reassignDnis = text('reassign');
  const applyPlanPath = text('apply-plan');
  for (const dependent of ['to', 'expect'] as const) {
    if (values.has(dependent) && reassignDnis === undefined) errors.push(`--${dependent} only goes with --reassign DNIS (see --help)`);
  }
  for (const dependent of ['by', 'reason'] as const) {
    if (values.has(dependent) && reassignDnis === undefined && applyPlanPath === undefined) errors.push(`--${dependent} only goes with --reassign DNIS or --apply-plan PLAN.json (see --help)`);
  }
  let applyPlan: StartOptions['applyPlan'];
  if (applyPlanPath !== undefined) {
    if (reassignDnis !== undefined) errors.push('--apply-plan and --reassign are separate runs; give one of them');
    if (values.has('plan')) errors.push('--apply-plan applies a saved plan; --plan makes one. Give one of them');
    if (positionals.length > 0) errors.push(`--apply-plan takes no CSV files (got ${positionals.join(', ')})`);
    const by = text('by') ?? `local:${env.USER ?? 'operator'}`;
    const reason = text('reason') ?? 'approved with npm start --apply-plan';
    if (by.trim() === '' || by.length > 200) errors.push('--by takes a name of 1 to 200 characters');
    if (reason.trim() === '' || reason.length > 1_000) errors.push('--reason takes 1 to 1000 characters');
    applyPlan = { path: applyPlanPath, by, reason };
  }
  let reassign: StartOptions['reassign'];
  if (reassignDnis !== undefined) {
    // Only the obvious typos here; the intake applies the configured validation and answers on the bus.
    const number = normalizeNumber(reassignDnis, { validation: 'possible' });
    if (!number.ok) errors.push(`--reassign: "${reassignDnis}" ${number.reason}`);
    const toText = text('to');
    if (toText === undefined) errors.push('--reassign needs --to TYPE:ID, e.g. --to queue:4503');
    const to = toText === undefined ? undefined : targetSpec(toText, '--to', errors);
    const expectText = text('expect');
    const expect = expectText === undefined ? undefined : expectText === 'none' ? null : targetSpec(expectText, '--expect', errors);
    const by = text('by') ?? `local:${env.USER ?? 'operator'}`;
    const reason = text('reason') ?? 'requested with npm start --reassign';
    if (by.trim() === '' || by.length > 200) errors.push('--by takes a name of 1 to 200 characters');
    if (reason.trim() === '' || reason.length > 1_000) errors.push('--reason takes 1 to 1000 characters');
    if (to) reassign = { dnis: reassignDnis, to, expect, by, reason };
  }

  return {
    options: {
      files: positionals.length > 0 || reassignDnis !== undefined || applyPlanPath !== undefined ? positionals : [DEFAULT_EXAMPLE_FILE],
      plan: values.has('plan'),
      out: text('out'),
      export: !values.has('no-export') && reassignDnis === undefined && applyPlanPath === undefined,
      verbose: values.has('verbose'),
      help: values.has('help'),
      stage: stageText === 'prod' ? 'prod' : 'dev',
      timeScale,
      stallSeconds,
      reassign,
      applyPlan,
    },
    errors,
  };
}

function positiveNumber(value: string | undefined, flag: string, errors: string[]): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (value.trim() === '' || !Number.isFinite(number) || number <= 0) {
    errors.push(`${flag} takes a positive number (got "${value}")`);
    return undefined;
  }
  return number;
}

/** TYPE:ID checked with the same schema the reassignment intake applies to events. */
function targetSpec(spec: string, flag: string, errors: string[]): TargetSpec | undefined {
  const match = /^([A-Za-z_ -]+):(\d+)$/.exec(spec.trim());
  if (!match) {
    errors.push(`${flag} takes TYPE:ID, e.g. queue:4503 (got "${spec}")`);
    return undefined;
  }
  const candidate = { type: match[1] as string, id: Number(match[2]) };
  const checked = EventTargetSchema.safeParse(candidate);
  if (!checked.success) {
    errors.push(`${flag}: ${checked.error.issues.map((issue) => issue.message).join('; ')}`);
    return undefined;
  }
  return candidate;
}
