import { z } from 'zod';

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** Every setting the functions read, parsed once at cold start. A bad value stops the function with its name. */
export const ConfigSchema = z.object({
  LEDGER_TABLE: z.string().min(1),
  EVENT_BUS_NAME: z.string().min(1),
  ALIYUN_ACCESS_KEY_ID: z.string().min(1),
  ALIYUN_ACCESS_KEY_SECRET: z.string().min(1),
  ALIYUN_SECURITY_TOKEN: z.string().min(1).optional(),
  /** Replaces every region's ESS endpoint; set to the local emulator. */
  ESS_ENDPOINT: z.url().optional(),
  /** Deliveries after which a still-retryable request ends Failed; keep it below the queue's maxReceiveCount. */
  MAX_ATTEMPTS: positiveInt(8),
  OPERATION_TIMEOUT_SECONDS: positiveInt(3600),
  POLL_CONCURRENCY: positiveInt(8),
  HTTP_CONNECT_TIMEOUT_MS: positiveInt(3000),
  HTTP_RESPONSE_TIMEOUT_MS: positiveInt(10000),
});
export type Config = z.infer<typeof ConfigSchema>;

export function parseConfig(env: Record<string, string | undefined>): Config {
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
    throw new Error(`Invalid configuration: ${problems}`);
  }
  return parsed.data;
}
