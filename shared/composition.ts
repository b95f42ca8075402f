import { getParameter } from '@aws-lambda-powertools/parameters/ssm';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { type Config, parseConfig } from './config.ts';
import type { Clock, ProviderRegistry } from './detach/ports.ts';
import { DetachError } from './errors.ts';
import { DynamoDbLedger } from './ledger/dynamodb-ledger.ts';
import { EssClient, EssCredentials } from './providers/aliyun/ess-client.ts';
import { EssProvider } from './providers/aliyun/ess-provider.ts';
import { createHttpAgent } from './providers/http.ts';
import { TencentAsClient, TencentCredentials } from './providers/tencent/as-client.ts';
import { TencentProvider } from './providers/tencent/tencent-provider.ts';
import { TencentV2Client } from './providers/tencent/v2-client.ts';
import { EventBridgePublisher } from './publish/eventbridge-publisher.ts';
import { SqsRetryDelay } from './queue/sqs-retry-delay.ts';

/**
 * The composition root: config and adapters, built once per process at module scope of each handler.
 * AWS endpoints come from the SDK's own AWS_ENDPOINT_URL_* variables, so no code here knows it runs locally.
 */
export function compose(env: Record<string, string | undefined> = process.env) {
  const config: Config = parseConfig(env);
  const dispatcher = createHttpAgent({
    connectTimeoutMs: config.HTTP_CONNECT_TIMEOUT_MS,
    responseTimeoutMs: config.HTTP_RESPONSE_TIMEOUT_MS,
    connectionsPerOrigin: 32,
  });
  const ess = new EssClient({
    credentials: essCredentials(config),
    dispatcher,
    ...(config.ESS_ENDPOINT && { endpointOverride: config.ESS_ENDPOINT }),
  });
  const tencent = {
    credentials: tencentCredentials(config),
    dispatcher,
  };
  const providers: ProviderRegistry = {
    aliyun: new EssProvider(ess),
    tencent: new TencentProvider(
      new TencentAsClient({
        ...tencent,
        ...(config.TENCENT_AS_ENDPOINT && { endpointOverride: config.TENCENT_AS_ENDPOINT }),
      }),
      new TencentV2Client({
        ...tencent,
        ...(config.TENCENT_V2_ENDPOINT && { endpointOverride: config.TENCENT_V2_ENDPOINT }),
      }),
    ),
  };
  const clock: Clock = { now: () => new Date() };
  return {
    config,
    clock,
    providers,
    ledger: new DynamoDbLedger(new DynamoDBClient({}), config.LEDGER_TABLE),
    publisher: new EventBridgePublisher(new EventBridgeClient({}), config.EVENT_BUS_NAME),
    retryDelay: new SqsRetryDelay(new SQSClient({})),
  };
}

function essCredentials(config: Config): () => Promise<EssCredentials> {
  const parameter = config.ALIYUN_CREDENTIALS_PARAMETER;
  if (parameter) {
    return async () =>
      EssCredentials.parse(await getParameter(parameter, { decrypt: true, transform: 'json', maxAge: 300 }));
  }
  const fixed = EssCredentials.parse({
    accessKeyId: config.ALIYUN_ACCESS_KEY_ID,
    accessKeySecret: config.ALIYUN_ACCESS_KEY_SECRET,
  });
  return async () => fixed;
}

function tencentCredentials(config: Config): () => Promise<TencentCredentials> {
  const parameter = config.TENCENT_CREDENTIALS_PARAMETER;
  if (parameter) {
    return async () =>
      TencentCredentials.parse(
        await getParameter(parameter, { decrypt: true, transform: 'json', maxAge: 300 }),
      );
  }
  if (config.TENCENT_SECRET_ID && config.TENCENT_SECRET_KEY) {
    const fixed = TencentCredentials.parse({
      secretId: config.TENCENT_SECRET_ID,
      secretKey: config.TENCENT_SECRET_KEY,
    });
    return async () => fixed;
  }
  // Tencent is optional: without keys, its requests fail with a clear, fatal reason.
  return async () => {
    throw new DetachError(
      'TencentNotConfigured',
      'No Tencent Cloud credentials are configured for this stage.',
      'fatal',
    );
  };
}
