import { existsSync, readFileSync } from 'node:fs';
import { type SavedPlan, SavedPlanSchema } from '../../shared/domain/savedPlan';
import { fileProblem } from './validate';

export interface SavedPlanFile {
  path: string;
  plan: SavedPlan;
  /** The file as written by the plan run, put back in the local bucket unchanged. */
  text: string;
}

/** Where a local apply remembers that a plan file was applied, beside the plan. */
export const appliedMarkerPath = (planPath: string) => planPath.replace(/(\.json)?$/i, '.applied.json');

export interface AppliedMarker {
  planId: string;
  jobId: string;
  approvedBy: string;
  reason: string;
  at: string;
}

/**
 * Reads --apply-plan's file before anything starts: one line saying what is wrong with it, or the
 * plan. The plan's own checks (expiry, state, applied once) are the pipeline's, as in AWS.
 */
export function readSavedPlanFile(path: string): { ok: true; file: SavedPlanFile } | { ok: false; problem: string } {
  const problem = fileProblem(path);
  if (problem) return { ok: false, problem: `--apply-plan: ${problem}` };
  const text = readFileSync(path, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, problem: `--apply-plan: ${path} is not JSON (${(error as Error).message})` };
  }
  const parsed = SavedPlanSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, problem: `--apply-plan: ${path} is not a saved plan (plan.json from a --plan run): ${issue?.path.join('.') || 'plan'}: ${issue?.message}` };
  }
  return { ok: true, file: { path, plan: parsed.data, text } };
}

/** The earlier local apply of this plan file, if there was one. */
export function readAppliedMarker(planPath: string): AppliedMarker | undefined {
  const path = appliedMarkerPath(planPath);
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as AppliedMarker;
  } catch {
    return undefined;
  }
}
