import { SimError } from './errors';
import type { RouteContext } from './route';

/**
 * The answer to an array body longer than the `maxArray` knob. RingCX documents no cap nor an
 * error for one, so this is an assumption: 413 with a Spring-style dotted `errorCode` and a
 * `generalMessage` that names the limit, as a client would most plausibly see it. Nothing of the
 * array is stored (arrays are atomic), so a client may split it and send the halves.
 */
export const ARRAY_TOO_LARGE_CODE = 'request.array.too.large.exception';

export function arrayTooLarge(size: number, max: number): SimError {
  return new SimError(413, ARRAY_TOO_LARGE_CODE, `At most ${max} records may be sent in one request; this one has ${size}`);
}

/** The JSON array body of an array endpoint, refused whole when it is longer than the knob allows. */
export function cappedArray(ctx: RouteContext, items: unknown[]): unknown[] {
  const max = ctx.sim.knobs.maxArray;
  if (items.length > max) throw arrayTooLarge(items.length, max);
  return items;
}
