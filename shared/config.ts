import * as z from 'zod';

/** An unset variable and an empty one mean the same: serverless.yml writes '' for what a stage does not use. */
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === '' ? undefined : value), schema.optional());

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const flag = (fallback: boolean) =>
  z.preprocess(
    (value) => (value === '' || value === undefined ? undefined : value),
    z
      .enum(['true', 'false'])
      .transform((value) => value === 'true')
      // zod 4: a default is the output value, not parsed again.
      .default(fallback),
  );

/** Every setting the functions read, parsed once at cold start. A bad value stops the function with its name. */
const ConfigFields = z.object({
  LEDGER_TABLE: z.string().min(1),
  EVENT_BUS_NAME: z.string().min(1),
  /**
   * Deployed: the name of an SSM SecureString holding {"accessKeyId","accessKeySecret"}; read at run time and
   * cached for five minutes, so keys never sit in the function's environment and a rotation is picked up.
   */
  ALIYUN_CREDENTIALS_PARAMETER: optional(z.string().min(1)),
  /** Local only: the keys themselves (the emulator's). */
  ALIYUN_ACCESS_KEY_ID: optional(z.string().min(1)),
  ALIYUN_ACCESS_KEY_SECRET: optional(z.string().min(1)),
  /** Deployed: an SSM SecureString {"secretId","secretKey"}; absent means no Tencent requests are accepted. */
  TENCENT_CREDENTIALS_PARAMETER: optional(z.string().min(1)),
  /** Local only: the keys themselves (the emulator's). */
  TENCENT_SECRET_ID: optional(z.string().min(1)),
  TENCENT_SECRET_KEY: optional(z.string().min(1)),
  /** Replace https://as.tencentcloudapi.com and https://scaling.api.qcloud.com; set to the local emulator. */
  TENCENT_AS_ENDPOINT: optional(z.url()),
  TENCENT_V2_ENDPOINT: optional(z.url()),
  /**
   * Deployed: an SSM SecureString {"current","previous"?} that authenticates incoming webhook requests; both are
   * accepted while a rotation lasts (docs/operations.md "Rotating a secret").
   */
  WEBHOOK_SECRET_PARAMETER: optional(z.string().min(1)),
  /** Local only: the secrets themselves. */
  WEBHOOK_SECRET: optional(z.string().min(16)),
  WEBHOOK_PREVIOUS_SECRET: optional(z.string().min(16)),
  /**
   * Deployed: an SSM SecureString {"callers":[{"keyId","secret","accounts"}]}: webhook callers with keys of their
   * own, each scoped to accounts (docs/accounts.md "Caller keys"). Read only for a request that names a key id;
   * a parameter that does not exist means no keyed callers.
   */
  WEBHOOK_CALLERS_PARAMETER: optional(z.string().min(1)),
  /** Local only: the same JSON itself (checked when a keyed request needs it). */
  WEBHOOK_CALLERS: optional(z.string().min(1)),
  /**
   * Deployed: an SSM SecureString {"current","previous"?} that signs callbacks (one v1 per secret); never the
   * webhook's, so a callback receiver cannot forge webhook requests.
   */
  CALLBACK_SECRET_PARAMETER: optional(z.string().min(1)),
  /** Local only: the secrets themselves. */
  CALLBACK_SECRET: optional(z.string().min(16)),
  CALLBACK_PREVIOUS_SECRET: optional(z.string().min(16)),
  /** Each action's queue URL, as JSON {"detach-instances": "https://sqs..."}: where the webhook enqueues. */
  REQUEST_QUEUE_URLS: optional(
    z
      .string()
      .transform((text, context) => {
        try {
          return JSON.parse(text) as unknown;
        } catch {
          context.addIssue({ code: 'custom', message: 'must be JSON' });
          return z.NEVER;
        }
      })
      .pipe(z.record(z.string(), z.string())),
  ),
  WEBHOOK_MAX_BODY_BYTES: positiveInt(65_536),
  CALLBACK_MAX_ATTEMPTS: positiveInt(6),
  CALLBACK_RETRY_BASE_SECONDS: positiveInt(30),
  /** Deployed stages take only https callback URLs; local ones also http. */
  CALLBACK_REQUIRE_HTTPS: flag(true),
  /**
   * Whether a callback may connect to a loopback, private, link-local, unique-local or CGNAT address: only
   * locally, where the receivers are on 127.0.0.1. Checked on the resolved address at connect time.
   */
  CALLBACK_ALLOW_PRIVATE_ADDRESSES: flag(false),
  /** Comma-separated host names callbacks may go to (exact, lower case); unset: any public host. */
  CALLBACK_ALLOWED_HOSTS: optional(
    z
      .string()
      .transform((text) =>
        text
          .split(',')
          .map((host) => host.trim().toLowerCase())
          .filter((host) => host !== ''),
      )
      .pipe(z.array(z.string()).min(1)),
  ),
  /** The whole of one callback (connect, send, answer), so a receiver that trickles cannot hold a poll pass. */
  CALLBACK_DEADLINE_MS: positiveInt(10_000),
  /** Replaces every region's ESS endpoint; set to the local emulator. */
  ESS_ENDPOINT: optional(z.url()),
  /**
   * The name of an SSM parameter holding the account registry (JSON, shared/accounts/account-registry.ts): the
   * member accounts this deployment acts in through assumed roles (docs/accounts.md, "Many accounts"). Absent: the
   * deployment's own keys only, as before.
   */
  ACCOUNTS_PARAMETER: optional(z.string().min(1)),
  /** The registry itself, as JSON, where there is no SSM (the local stack); ACCOUNTS_PARAMETER wins. */
  ACCOUNTS: optional(z.string().min(1)),
  /** Replace https://sts.aliyuncs.com and https://sts.tencentcloudapi.com; set to the local emulator. */
  ALIYUN_STS_ENDPOINT: optional(z.url()),
  TENCENT_STS_ENDPOINT: optional(z.url()),
  /**
   * How ESS calls are signed: `rpc` (signature 1.0, HMAC-SHA1 over the parameters) or `v3` (ACS3-HMAC-SHA256 in
   * the Authorization header, the body hashed). `rpc` by default: the signature the ESS 2014-08-28 reference
   * documents (docs/reference/aliyun-ess.md) and every measured run used; `v3` is the one Alibaba recommends for
   * new clients, selectable without a code change (docs/operations.md "Configuration").
   */
  ALIYUN_SIGNATURE_VERSION: z.preprocess(
    (value) => (value === '' ? undefined : value),
    z.enum(['rpc', 'v3']).default('rpc'),
  ),
  /**
   * SQS deliveries of one message whose processing keeps failing; on the last it ends Rejected (Unprocessable).
   * Unset: MAX_ATTEMPTS, else 8.
   */
  MAX_DELIVERIES: optional(z.coerce.number().int().positive()),
  /**
   * Cloud call attempts of one intent (throttled answers) before its requests end Failed (RetriesExhausted).
   * Unset: MAX_ATTEMPTS, else 8.
   */
  MAX_CALL_ATTEMPTS: optional(z.coerce.number().int().positive()),
  /** Deprecated: the fallback of both MAX_DELIVERIES and MAX_CALL_ATTEMPTS, which it used to be at once. */
  MAX_ATTEMPTS: optional(z.coerce.number().int().positive()),
  /** Backoff of retries: the first waits up to this, each further one up to twice as long, capped. */
  RETRY_BASE_SECONDS: positiveInt(5),
  RETRY_MAX_SECONDS: positiveInt(300),
  OPERATION_TIMEOUT_SECONDS: positiveInt(3600),
  /** Seconds between passes inside one poller invocation. */
  POLL_INTERVAL_SECONDS: positiveInt(5),
  /** How long one poller invocation keeps passing (0: one pass); keep it below the function's timeout. */
  POLL_LOOP_SECONDS: z.coerce.number().int().nonnegative().default(45),
  /**
   * The poller's next-pass queue (FIFO, its delay the interval): set, each invocation makes one pass and a pass
   * that leaves work open sends the next one there, instead of looping for POLL_LOOP_SECONDS.
   */
  POLL_NEXT_QUEUE_URL: optional(z.string().min(1)),
  POLL_CONCURRENCY: positiveInt(8),
  HTTP_CONNECT_TIMEOUT_MS: positiveInt(3000),
  HTTP_RESPONSE_TIMEOUT_MS: positiveInt(10000),
  /**
   * Our own AWS clients (DynamoDB, EventBridge, SQS): the most one attempt may wait to connect, and for its
   * answer. The SDK's socket default is 300 s, so one hung call would cost a whole invocation; the SDK makes up
   * to 3 attempts (DynamoDB 4), so each stays well below a function's budget. A timed-out write may have applied.
   */
  AWS_CONNECT_TIMEOUT_MS: positiveInt(1000),
  DYNAMODB_TIMEOUT_MS: positiveInt(2000),
  EVENTBRIDGE_TIMEOUT_MS: positiveInt(3000),
  SQS_TIMEOUT_MS: positiveInt(3000),
  /** Days a terminal ledger record is kept: its `expiresAt` (DynamoDB TTL) is completion + this. */
  RETENTION_DAYS: positiveInt(90),
});

/** The queues' redrive maxReceiveCount (serverless/queues.yml, local/resources.ts). */
const QUEUE_MAX_RECEIVE_COUNT = 10;
/** MAX_DELIVERIES and MAX_CALL_ATTEMPTS when neither they nor the deprecated MAX_ATTEMPTS are set. */
const DEFAULT_ATTEMPTS = 8;

/** The settings with MAX_ATTEMPTS resolved into the two it stood for. */
export const ConfigSchema = ConfigFields.transform(({ MAX_ATTEMPTS, ...config }, context) => {
  const maxDeliveries = config.MAX_DELIVERIES ?? MAX_ATTEMPTS ?? DEFAULT_ATTEMPTS;
  // Below the queues' maxReceiveCount: a message that always fails must end Unprocessable before the DLQ.
  if (maxDeliveries >= QUEUE_MAX_RECEIVE_COUNT) {
    context.addIssue({
      code: 'custom',
      path: [config.MAX_DELIVERIES === undefined ? 'MAX_ATTEMPTS' : 'MAX_DELIVERIES'],
      message: `must stay below the queues' maxReceiveCount (${QUEUE_MAX_RECEIVE_COUNT})`,
    });
    return z.NEVER;
  }
  return {
    ...config,
    MAX_DELIVERIES: maxDeliveries,
    MAX_CALL_ATTEMPTS: config.MAX_CALL_ATTEMPTS ?? MAX_ATTEMPTS ?? DEFAULT_ATTEMPTS,
  };
});
export type Config = z.infer<typeof ConfigSchema>;

const hasCredentials = (config: Config) =>
  config.ALIYUN_CREDENTIALS_PARAMETER !== undefined ||
  (config.ALIYUN_ACCESS_KEY_ID !== undefined && config.ALIYUN_ACCESS_KEY_SECRET !== undefined);

export function parseConfig(env: Record<string, string | undefined>): Config {
  // Parsed once per process: zod's compiled fast path would cost more to generate (about 3 ms of a cold start)
  // than it saves on a single parse.
  const parsed = ConfigSchema.safeParse(env, { jitless: true });
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((issue) => `${issue.path.join('.')}: ${issue.message}`)
      .join('; ');
    throw new Error(`Invalid configuration: ${problems}`);
  }
  if (!hasCredentials(parsed.data)) {
    throw new Error(
      'Invalid configuration: set ALIYUN_CREDENTIALS_PARAMETER, or both ALIYUN_ACCESS_KEY_ID and ALIYUN_ACCESS_KEY_SECRET',
    );
  }
  return parsed.data;
}
