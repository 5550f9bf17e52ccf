import { spawnSync } from 'node:child_process';
import { closeSync, openSync, statSync } from 'node:fs';
import { parseRingCxSecret } from '../../shared/ringcx/auth/credentials';

/** Why a path can't be read, in words; undefined when it is a readable file. */
export function fileProblem(path: string): string | undefined {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch (error) {
    return describeFsError(path, error);
  }
  if (isDirectory) return `${path} is a directory, not a CSV file`;
  try {
    closeSync(openSync(path, 'r'));
  } catch (error) {
    return describeFsError(path, error);
  }
  return undefined;
}

function describeFsError(path: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return `no such file: ${path}`;
  if (code === 'EACCES' || code === 'EPERM') return `cannot read ${path}: permission denied`;
  if (code === 'ENOTDIR') return `no such file: ${path} (a part of the path is not a directory)`;
  if (code === 'ELOOP') return `cannot read ${path}: too many symbolic links`;
  return `cannot read ${path}: ${code ?? (error as Error).message}`;
}

/** --out may exist (reports are added to it) but must not be a file. */
export function outDirProblem(path: string): string | undefined {
  try {
    return statSync(path).isDirectory() ? undefined : `--out ${path} is a file, not a folder`;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : `--out ${path}: ${(error as NodeJS.ErrnoException).code}`;
  }
}

/** The environment variables npm start reads, checked without ever echoing a credential. */
export function environmentProblems(env: NodeJS.ProcessEnv): string[] {
  const problems: string[] = [];
  const baseUrl = env.RINGCX_BASE_URL;
  const secret = env.RINGCX_SECRET_JSON;
  if (baseUrl !== undefined) {
    const urlProblem = httpUrlProblem(baseUrl);
    if (urlProblem) problems.push(`RINGCX_BASE_URL ${urlProblem}`);
    if (secret === undefined || secret.trim() === '') {
      problems.push('RINGCX_BASE_URL is set but RINGCX_SECRET_JSON is not: give the credentials as JSON (see --help)');
    }
  }
  if (env.RINGCENTRAL_BASE_URL !== undefined) {
    const urlProblem = httpUrlProblem(env.RINGCENTRAL_BASE_URL);
    if (urlProblem) problems.push(`RINGCENTRAL_BASE_URL ${urlProblem}`);
  }
  if (secret !== undefined && secret.trim() !== '') {
    if (baseUrl === undefined) problems.push('RINGCX_SECRET_JSON is set but RINGCX_BASE_URL is not: say which RingCX server the credentials are for');
    try {
      parseRingCxSecret(secret);
    } catch (error) {
      // parseRingCxSecret names the problem and never echoes the value.
      problems.push(`RINGCX_SECRET_JSON: ${(error as Error).message}`);
    }
  }
  const account = env.RINGCX_DEFAULT_ACCOUNT_ID;
  if (account !== undefined && !/^[0-9]{1,20}$/.test(account)) problems.push(`RINGCX_DEFAULT_ACCOUNT_ID must be a numeric RingCX sub-account id (got "${account}")`);
  const budget = env.RINGCX_REQUESTS_PER_WINDOW;
  if (budget !== undefined && !/^[1-9][0-9]*$/.test(budget)) problems.push(`RINGCX_REQUESTS_PER_WINDOW must be a positive whole number (got "${budget}")`);
  return problems;
}

function httpUrlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `is not a URL (got "${value}")`;
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? undefined : `must be an http(s) URL (got "${value}")`;
}

export const JAVA_INSTALL_HINT = 'apt-get install openjdk-17-jre-headless';

/** DynamoDB Local is a Java program: find out before anything starts, not from a spawn error later. */
export function javaProblem(command = 'java'): string | undefined {
  const result = spawnSync(command, ['-version'], { stdio: 'ignore', timeout: 30_000 });
  const code = (result.error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return `Java is not installed, and DynamoDB Local needs it: ${JAVA_INSTALL_HINT}`;
  if (result.error) return `Java could not be run (${code ?? result.error.message}); DynamoDB Local needs it: ${JAVA_INSTALL_HINT}`;
  if (result.status !== 0) return `"${command} -version" failed (exit ${result.status ?? result.signal}); DynamoDB Local needs a working Java: ${JAVA_INSTALL_HINT}`;
  return undefined;
}
