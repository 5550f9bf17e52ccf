/**
 * `npm start`'s exit codes, the contract for scripts. When several apply, the first fatal one
 * (usage, RingCX, stall) wins; otherwise the run's rows decide between 0 and 1.
 */
export const EXIT = {
  /** Every file was read and every row reached its intended state (or, with --plan, could be planned). */
  ok: 0,
  /** The run finished, but some row ended failed, rejected or conflict, a file was refused, or a reassignment was refused. */
  rowsNeedAttention: 1,
  /** A usage mistake (flag, file, environment, missing Java): nothing was started. */
  usage: 2,
  /** RingCX (or the RingCentral login) could not be reached or refused the credentials. */
  ringcx: 3,
  /** No progress for --stall-seconds, or an internal error; the collected errors are printed. */
  stalledOrInternal: 4,
  /** Interrupted by SIGINT / SIGTERM (128 + signal number, as shells report it). */
  sighup: 129,
  sigint: 130,
  sigterm: 143,
} as const;

export const EXIT_CODES_HELP = `Exit codes:
  0    every row reached its intended state (with --plan: could be planned)
  1    finished, but some row ended failed, rejected or conflict, a file was refused,
       or a reassignment was refused (see failed.csv / results.csv)
  2    usage mistake (flag, file, environment, Java missing); nothing was started
  3    RingCX or the RingCentral login unreachable, or the credentials were refused
  4    no progress for --stall-seconds (the collected errors are printed), or an internal error
  129, 130, 143  hung up (SIGHUP), interrupted (SIGINT), terminated (SIGTERM, or the process
       that started it went away); everything started was stopped first`;

/** A mistake the user can fix; printed as one line, never with a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}
