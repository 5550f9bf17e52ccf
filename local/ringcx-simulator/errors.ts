/**
 * An error the simulator answers with, shaped like RingCX's: `errorCode`, `generalMessage`,
 * `details`, `requestUri` ("<path> - <METHOD>") and `timestamp` in epoch ms.
 */
export class SimError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    readonly generalMessage: string,
    readonly validationErrors?: { attributeName: string; message: string; value?: unknown }[],
  ) {
    super(generalMessage);
  }
}

export const badRequest = (message: string, attributeName?: string, value?: unknown) =>
  new SimError(
    400,
    'validation.exception',
    message,
    attributeName ? [{ attributeName, message, value }] : undefined,
  );
export const accessDenied = () =>
  new SimError(403, 'access.denied.exception', 'You do not have permission to access this resource');
export const notFound = (message: string) => new SimError(404, 'resource.not.found.exception', message);
export const conflict = (message: string) => new SimError(409, 'duplicate.resource.exception', message);
