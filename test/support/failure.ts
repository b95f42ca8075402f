import { type DetachError, isDetachError } from '../../shared/errors.ts';

/** The DetachError a call failed with; fails the test if it succeeded or threw something else. */
export async function failure(promise: Promise<unknown>): Promise<DetachError> {
  const error = await promise.then(
    () => new Error('expected the call to fail'),
    (e: unknown) => e,
  );
  if (!isDetachError(error)) throw new Error(`expected a DetachError, got ${String(error)}`);
  return error;
}
