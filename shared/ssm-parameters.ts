import { getParameter } from '@aws-lambda-powertools/parameters/ssm';
import type { z } from 'zod';
import { DetachError } from './errors.ts';

/**
 * Credentials read from an SSM SecureString at run time, cached five minutes. A parameter that does not exist,
 * or holds the wrong shape, is a configuration fault (fatal: retrying cannot help); SSM being unreachable is
 * transient. The value itself never appears in an error.
 */
export function fromParameter<T>(
  name: string,
  schema: z.ZodType<T>,
  cloud: string,
  transform: 'json' | undefined = 'json',
  /** What a parameter that does not exist means, where that is not a fault. */
  whenMissing?: T,
): () => Promise<T> {
  return async () => {
    let value: unknown;
    try {
      value = await getParameter(name, { decrypt: true, maxAge: 300, ...(transform && { transform }) });
    } catch (error) {
      const missing = (error as { name?: string }).name === 'ParameterNotFound';
      if (missing && whenMissing !== undefined) return whenMissing;
      throw new DetachError(
        missing ? 'CredentialsNotConfigured' : 'CredentialsUnavailable',
        `The ${cloud} credentials parameter ${name} could not be read${missing ? ': it does not exist' : ''}.`,
        missing ? 'fatal' : 'transient',
      );
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      throw new DetachError(
        'CredentialsNotConfigured',
        `The ${cloud} credentials parameter ${name} has the wrong shape.`,
        'fatal',
      );
    }
    return parsed.data;
  };
}
