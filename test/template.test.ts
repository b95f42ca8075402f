import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEBHOOK_ROUTES } from '../local/http-api.ts';
import { LEDGER_TABLE_KEYS, stackResources } from '../local/resources.ts';
import { functionBuildOptions } from '../support/function-build.ts';

/**
 * The template `serverless package --stage prod` writes, read as a platform team would before deploying it:
 * each function's role, the alarms and the dashboard, tracing, the ledger's retention, concurrency, the HTTP API.
 */
type Resource = {
  Type: string;
  Properties: Record<string, unknown>;
  Condition?: string;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
};
type Statement = { Effect: string; Action: string[]; Resource: unknown; Condition?: unknown };
let template: {
  Resources: Record<string, Resource>;
  Conditions: Record<string, unknown>;
  Parameters: Record<string, { Default?: string }>;
};
/** The service as the framework resolved it (serverless-state.json, written beside the template). */
let service: { custom: { esbuild: Record<string, unknown> } };
let outDir: string;

beforeAll(async () => {
  outDir = await mkdtemp(join(tmpdir(), 'scaling-detach-package-'));
  await promisify(execFile)(
    'npx',
    ['serverless', 'package', '--stage', 'prod', '--region', 'eu-west-1', '--package', outDir],
    {
      // Its own esbuild folder: the local stack's serverless-offline runs from the default one meanwhile.
      env: {
        ...process.env,
        SLS_TELEMETRY_DISABLED: '1',
        SCALING_DETACH_ESBUILD_FOLDER: 'build/esbuild-template-test',
      },
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  template = JSON.parse(await readFile(join(outDir, 'cloudformation-template-update-stack.json'), 'utf8'));
  service = JSON.parse(await readFile(join(outDir, 'serverless-state.json'), 'utf8')).service;
}, 180_000);
afterAll(async () => {
  if (outDir) await rm(outDir, { recursive: true, force: true });
  await rm('build/esbuild-template-test', { recursive: true, force: true });
});

const resource = (logicalId: string) => template.Resources[logicalId] as Resource;
const ofType = (type: string) => Object.entries(template.Resources).filter(([, r]) => r.Type === type);

const arn = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });
const index = (name: string) => ({ 'Fn::Join': ['/', [arn('OperationsTable'), 'index', name]] });
const parameter = (name: string) => ({
  'Fn::Sub': `arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter/scaling-detach/prod/${name}`,
});
const logGroup = (fn: string) => [
  {
    'Fn::Sub': `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/scaling-detach-prod-${fn}:*:*`,
  },
];
const ledger = (actions: string[], resources: unknown) => ({ Action: actions, Resource: resources });
const QUEUES = [
  'DetachInstancesQueue',
  'RemoveInstancesQueue',
  'DetachVServerGroupsQueue',
  'DetachAlbServerGroupsQueue',
];
const KMS = 'kms:Decrypt';

/** A function's role, as [actions, resources] per statement; the KMS statement's scoping is checked apart. */
function roleOf(functionLogicalId: string) {
  const fn = resource(`${functionLogicalId}LambdaFunction`);
  const roleId = (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  const role = resource(roleId);
  const statements = (role.Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[]).flatMap(
    (policy) => policy.PolicyDocument.Statement,
  );
  expect(statements.every((s) => s.Effect === 'Allow')).toBe(true);
  expect(role.Properties.ManagedPolicyArns ?? []).toEqual([]);
  return {
    roleId,
    statements: statements.map((s) => ({ Action: [...s.Action].sort(), Resource: s.Resource })),
    kms: statements.find((s) => s.Action.includes(KMS)),
  };
}

const logs = (fn: string) => ({
  Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
  Resource: logGroup(fn),
});
const xray = { Action: ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'], Resource: '*' };
const common = (fn: string) => [logs(fn), xray];
const kmsStatement = {
  Action: [KMS],
  Resource: {
    'Fn::If': [
      'SsmKmsKeyIsAlias',
      { 'Fn::Sub': 'arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*' },
      { Ref: 'SsmKmsKey' },
    ],
  },
};
const putEvents = { Action: ['events:PutEvents'], Resource: arn('EventBus') };
const sqsSource = (queue: string) => ({
  Action: ['sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage'],
  Resource: [arn(queue)],
});
/** What the group dispatcher calls on the ledger (see shared/ledger/dynamodb-ledger.ts). */
const DISPATCHER_LEDGER_ACTIONS = [
  'dynamodb:BatchGetItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:ConditionCheckItem',
  'dynamodb:DeleteItem',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:Query',
  'dynamodb:UpdateItem',
];
/** Reads the credentials of these clouds, the callback secret and the account registry (docs/accounts.md). */
const readSecrets = (clouds: string[]) => ({
  Action: ['ssm:GetParameter'],
  Resource: [
    ...clouds.map((cloud) => parameter(`${cloud}/credentials`)),
    parameter('callback-secret'),
    parameter('accounts'),
  ],
});
const requestFunction = (fn: string, queue: string, clouds: string[]) => [
  logs(fn),
  sqsSource(queue),
  xray,
  ledger(DISPATCHER_LEDGER_ACTIONS, [arn('OperationsTable'), index('waiting')]),
  putEvents,
  readSecrets(clouds),
  kmsStatement,
  { Action: ['sqs:ChangeMessageVisibility'], Resource: arn(queue) },
];

const EXPECTED_ROLES: Record<string, unknown[]> = {
  DetachInstances: requestFunction('detachInstances', 'DetachInstancesQueue', ['aliyun', 'tencent']),
  RemoveInstances: requestFunction('removeInstances', 'RemoveInstancesQueue', ['aliyun', 'tencent']),
  // The server group actions have no Tencent form.
  DetachVServerGroups: requestFunction('detachVServerGroups', 'DetachVServerGroupsQueue', ['aliyun']),
  DetachAlbServerGroups: requestFunction('detachAlbServerGroups', 'DetachAlbServerGroupsQueue', ['aliyun']),
  Webhook: [
    ...common('webhook'),
    ledger(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], arn('OperationsTable')),
    // The group view: its waiting requests and history, the records by key.
    ledger(
      ['dynamodb:BatchGetItem', 'dynamodb:Query'],
      [arn('OperationsTable'), index('waiting'), index('history')],
    ),
    putEvents,
    // Its secrets, and the account registry a request's account is checked against.
    {
      Action: ['ssm:GetParameter'],
      Resource: [parameter('webhook-secret'), parameter('webhook-callers'), parameter('accounts')],
    },
    kmsStatement,
    { Action: ['sqs:SendMessage'], Resource: QUEUES.map(arn) },
  ],
  PollActivities: [
    logs('pollActivities'),
    sqsSource('PollNextQueue'),
    xray,
    ledger(DISPATCHER_LEDGER_ACTIONS, [arn('OperationsTable'), index('pending'), index('waiting')]),
    putEvents,
    readSecrets(['aliyun', 'tencent']),
    kmsStatement,
    { Action: ['sqs:SendMessage'], Resource: arn('PollNextQueue') },
  ],
  RecordDelivery: [
    ...common('recordDelivery'),
    ledger(['dynamodb:GetItem', 'dynamodb:UpdateItem'], arn('OperationsTable')),
  ],
  // The consumer of every DLQ: the DeadLettered record (only where none exists) and its event.
  DeadLetter: [
    logs('deadLetter'),
    {
      Action: ['sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage'],
      Resource: QUEUES.map((queue) => arn(queue.replace('Queue', 'DeadLetterQueue'))),
    },
    xray,
    ledger(['dynamodb:GetItem', 'dynamodb:UpdateItem'], arn('OperationsTable')),
    putEvents,
  ],
};
const FUNCTIONS = Object.keys(EXPECTED_ROLES);

describe('the packaged prod template', () => {
  describe('least privilege: one role per function', () => {
    it.each(FUNCTIONS)('%s has its own role with exactly the calls its code makes', (fn) => {
      const role = roleOf(fn);

      expect(role.roleId).toBe(`${fn}IamRoleLambdaExecution`);
      expect(role.statements).toEqual(EXPECTED_ROLES[fn]);
    });

    it('no two functions share a role, and the framework shared role is never created', () => {
      const roles = FUNCTIONS.map((fn) => roleOf(fn).roleId);

      expect(new Set(roles).size).toBe(FUNCTIONS.length);
      expect(resource('IamRoleLambdaExecution').Condition).toBe('SharedRoleUnused');
      expect(template.Conditions.SharedRoleUnused).toEqual({ 'Fn::Equals': [{ Ref: 'AWS::StackName' }, ''] });
    });

    it('only the webhook reads its secret, and it cannot read the cloud credentials; recordDelivery reads none', () => {
      const readers = (name: string) =>
        FUNCTIONS.filter((fn) =>
          JSON.stringify(roleOf(fn).statements).includes(`/scaling-detach/prod/${name}`),
        );

      expect(readers('webhook-secret')).toEqual(['Webhook']);
      expect(readers('webhook-callers')).toEqual(['Webhook']);
      expect(readers('aliyun/credentials')).not.toContain('Webhook');
      expect(readers('aliyun/credentials')).not.toContain('RecordDelivery');
      expect(readers('callback-secret')).not.toContain('Webhook');
    });

    it('kms:Decrypt is scoped to the SSM key through SSM (an alias by default: aws/ssm)', () => {
      const { kms } = roleOf('PollActivities');

      expect(kms?.Condition).toEqual({
        'Fn::If': [
          'SsmKmsKeyIsAlias',
          {
            StringEquals: { 'kms:ViaService': { 'Fn::Sub': 'ssm.${AWS::Region}.amazonaws.com' } },
            'ForAnyValue:StringEquals': { 'kms:ResourceAliases': { Ref: 'SsmKmsKey' } },
          },
          { StringEquals: { 'kms:ViaService': { 'Fn::Sub': 'ssm.${AWS::Region}.amazonaws.com' } } },
        ],
      });
      expect(template.Conditions.SsmKmsKeyIsAlias).toEqual({
        'Fn::Equals': [{ 'Fn::Select': [0, { 'Fn::Split': ['/', { Ref: 'SsmKmsKey' }] }] }, 'alias'],
      });
      expect(template.Parameters.SsmKmsKey?.Default).toBe('alias/aws/ssm');
    });
  });

  it('no function has a local-only or an empty variable', () => {
    const LOCAL_ONLY =
      /^(ALIYUN_ACCESS_KEY_ID|ALIYUN_ACCESS_KEY_SECRET|TENCENT_SECRET_ID|TENCENT_SECRET_KEY|WEBHOOK_SECRET|WEBHOOK_PREVIOUS_SECRET|WEBHOOK_CALLERS|CALLBACK_SECRET|CALLBACK_PREVIOUS_SECRET|ESS_ENDPOINT|TENCENT_AS_ENDPOINT|TENCENT_V2_ENDPOINT)$/;
    for (const fn of FUNCTIONS) {
      const variables = (resource(`${fn}LambdaFunction`).Properties.Environment as { Variables: object })
        .Variables as Record<string, unknown>;
      expect(Object.keys(variables).filter((name) => LOCAL_ONLY.test(name))).toEqual([]);
      expect(Object.entries(variables).filter(([, value]) => value === '')).toEqual([]);
      expect(variables).toMatchObject({
        WEBHOOK_SECRET_PARAMETER: '/scaling-detach/prod/webhook-secret',
        WEBHOOK_CALLERS_PARAMETER: '/scaling-detach/prod/webhook-callers',
        CALLBACK_SECRET_PARAMETER: '/scaling-detach/prod/callback-secret',
        CALLBACK_REQUIRE_HTTPS: 'true',
        CALLBACK_ALLOW_PRIVATE_ADDRESSES: 'false',
        RETENTION_DAYS: '90',
        POWERTOOLS_TRACE_ENABLED: 'true',
      });
    }
  });

  it('every function is traced (active X-Ray)', () => {
    expect(FUNCTIONS.map((fn) => resource(`${fn}LambdaFunction`).Properties.TracingConfig)).toEqual(
      FUNCTIONS.map(() => ({ Mode: 'Active' })),
    );
  });

  it('the ledger survives a remove or a replacement, and terminal records expire through TTL on expiresAt', () => {
    const table = resource('OperationsTable');

    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.UpdateReplacePolicy).toBe('Retain');
    expect(table.Properties.TimeToLiveSpecification).toEqual({ AttributeName: 'expiresAt', Enabled: true });
    expect(table.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
  });

  it('the request functions outlive one worst-case dispatch, and their queues hide a message six times as long', () => {
    for (const fn of ['DetachInstances', 'RemoveInstances', 'DetachVServerGroups', 'DetachAlbServerGroups'])
      expect(resource(`${fn}LambdaFunction`).Properties.Timeout).toBe(90);
    for (const queue of QUEUES) expect(resource(queue).Properties.VisibilityTimeout).toBe(540);
  });

  it('one poller at a time; each queue source bounded by maximumConcurrency', () => {
    const mappings = ofType('AWS::Lambda::EventSourceMapping');
    const isPollNext = (m: Resource) =>
      JSON.stringify(m.Properties.EventSourceArn) === JSON.stringify(arn('PollNextQueue'));
    const requests = mappings.filter(([, m]) => !isPollNext(m));
    const pollNext = mappings.filter(([, m]) => isPollNext(m));

    expect(resource('PollActivitiesLambdaFunction').Properties.ReservedConcurrentExecutions).toBe(1);
    // The four request queues, and their four DLQs (the deadLetter function, at the least concurrency there is).
    expect(requests).toHaveLength(8);
    expect(requests.map(([, m]) => m.Properties.ScalingConfig)).toEqual(
      requests.map(([, m]) =>
        JSON.stringify(m.Properties.EventSourceArn).includes('DeadLetterQueue')
          ? { MaximumConcurrency: 2 }
          : { MaximumConcurrency: 5 },
      ),
    );
    // The next-pass queue: one message an invocation, the least concurrency an SQS source takes (2), and the
    // poller's reserved concurrency of 1 below it.
    expect(pollNext).toHaveLength(1);
    expect(pollNext[0]?.[1].Properties).toMatchObject({
      BatchSize: 1,
      ScalingConfig: { MaximumConcurrency: 2 },
    });
    expect(resource('PollNextQueue').Properties).toMatchObject({
      FifoQueue: true,
      ContentBasedDeduplication: false,
      DelaySeconds: 4,
    });
  });

  it('the HTTP API is throttled and writes an access log', () => {
    const stage = resource('HttpApiStage').Properties;

    expect(stage.DefaultRouteSettings).toMatchObject({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 });
    expect(stage.AccessLogSettings).toMatchObject({ DestinationArn: arn('HttpApiLogGroup') });
    expect(resource('HttpApiLogGroup').Properties.RetentionInDays).toBe(30);
  });

  it('declares the outputs a producer and a consumer need (docs/deploy.md), each described', () => {
    const outputs = (
      template as unknown as { Outputs: Record<string, { Description?: string; Value: unknown }> }
    ).Outputs;

    expect(outputs.WebhookUrl?.Value).toEqual({
      'Fn::Sub': 'https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}',
    });
    expect(outputs.LedgerTableName?.Value).toEqual({ Ref: 'OperationsTable' });
    expect(outputs.EventBusName?.Value).toEqual({ Ref: 'EventBus' });
    for (const queue of QUEUES) expect(outputs[`${queue}Url`]?.Value).toEqual({ Ref: queue });
    for (const name of ['WebhookUrl', 'LedgerTableName', 'EventBusName', ...QUEUES.map((q) => `${q}Url`)])
      expect(outputs[name]?.Description).toBeTruthy();
  });

  it('serves the group view: GET /v1/groups/{provider}/{region}/{groupId} reaches the webhook', () => {
    const route = resource('HttpApiRouteGetV1GroupsProviderVarRegionVarGroupidVar');

    expect(route.Properties.RouteKey).toBe('GET /v1/groups/{provider}/{region}/{groupId}');
    expect(
      resource('HttpApiRouteGetV1GroupsProviderVarRegionVarGroupidVarAccountVar').Properties.RouteKey,
    ).toBe('GET /v1/groups/{provider}/{region}/{groupId}/{account}');
  });

  describe('alarms and dashboard', () => {
    const alarms = () => Object.fromEntries(ofType('AWS::CloudWatch::Alarm'));
    const metricOf = (alarm: Resource) => [
      alarm.Properties.Namespace,
      alarm.Properties.MetricName,
      alarm.Properties.Dimensions,
    ];

    it('alarms on DLQ messages, oldest message per queue, errors and throttles of every function', () => {
      const all = alarms();
      const queueName = (id: string) => [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [id, 'QueueName'] } }];
      const functionName = (fn: string) => [{ Name: 'FunctionName', Value: { Ref: `${fn}LambdaFunction` } }];

      for (const queue of QUEUES) {
        const dlq = queue.replace('Queue', 'DeadLetterQueue');
        expect(metricOf(all[`${dlq}Alarm`] as Resource)).toEqual([
          'AWS/SQS',
          'ApproximateNumberOfMessagesVisible',
          queueName(dlq),
        ]);
        expect((all[`${dlq}Alarm`] as Resource).Properties.Threshold).toBe(0);
        expect(metricOf(all[`${queue}AgeAlarm`] as Resource)).toEqual([
          'AWS/SQS',
          'ApproximateAgeOfOldestMessage',
          queueName(queue),
        ]);
        expect((all[`${queue}AgeAlarm`] as Resource).Properties.Threshold).toBe(900);
      }
      for (const fn of FUNCTIONS) {
        expect(metricOf(all[`${fn}ErrorsAlarm`] as Resource)).toEqual([
          'AWS/Lambda',
          'Errors',
          functionName(fn),
        ]);
        expect(metricOf(all[`${fn}ThrottlesAlarm`] as Resource)).toEqual([
          'AWS/Lambda',
          'Throttles',
          functionName(fn),
        ]);
      }
    });

    it('alarms on the oldest pending operation, callbacks that gave up, and the Failed/TimedOut rate', () => {
      const all = alarms();
      const service = [{ Name: 'service', Value: 'scaling-detach' }];
      const rate = (all.FailedCompletionRateAlarm as Resource).Properties;

      expect(metricOf(all.OldestPendingOperationAlarm as Resource)).toEqual([
        'ScalingDetach',
        'Poll.OldestPendingAgeSeconds',
        service,
      ]);
      expect((all.OldestPendingOperationAlarm as Resource).Properties.Threshold).toBe(3600);
      expect(metricOf(all.CallbackGaveUpAlarm as Resource)).toEqual([
        'ScalingDetach',
        'Callback.GaveUp',
        service,
      ]);
      expect(metricOf(all.DeadLetterReceivedAlarm as Resource)).toEqual([
        'ScalingDetach',
        'DeadLetter.Received',
        service,
      ]);
      expect(rate.Threshold).toBe(20);
      expect(
        (
          rate.Metrics as {
            Id: string;
            MetricStat?: { Metric: { MetricName: string } };
            Expression?: string;
          }[]
        ).map((m) => m.MetricStat?.Metric.MetricName ?? m.Expression),
      ).toEqual([
        'Completion.Failed',
        'Completion.TimedOut',
        'Completion.All',
        'IF(all > 0, 100 * (FILL(failed, 0) + FILL(timedOut, 0)) / all, 0)',
      ]);
    });

    it('every alarm acts on the optional SNS topic, and there are exactly these alarms', () => {
      const all = alarms();
      const actions = { 'Fn::If': ['HasAlarmTopic', [{ Ref: 'AlarmTopicArn' }], { Ref: 'AWS::NoValue' }] };

      expect(Object.keys(all)).toHaveLength(4 + 4 + 2 * FUNCTIONS.length + 4);
      for (const alarm of Object.values(all)) {
        expect(alarm.Properties.AlarmActions).toEqual(actions);
        expect(alarm.Properties.OKActions).toEqual(actions);
      }
      expect(template.Conditions.HasAlarmTopic).toEqual({
        'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'AlarmTopicArn' }, ''] }],
      });
      expect(template.Parameters.AlarmTopicArn?.Default).toBe('');
    });

    it('a dashboard shows the per-outcome metrics the functions emit', () => {
      const dashboards = ofType('AWS::CloudWatch::Dashboard');
      expect(dashboards).toHaveLength(1);
      const dashboard = (dashboards[0] as [string, Resource])[1];
      const body = JSON.parse((dashboard.Properties.DashboardBody as { 'Fn::Sub': string })['Fn::Sub']) as {
        widgets: { properties: { metrics: string[][] } }[];
      };
      const metrics = body.widgets.flatMap((w) => w.properties.metrics.map((m) => m[1]));

      expect(metrics).toEqual(
        expect.arrayContaining([
          'Request.submitted',
          'Request.queued',
          'Request.completed',
          'Request.failed',
          'Request.rejected',
          'Request.duplicate',
          'Request.retry.busy',
          'Request.retry.throttled',
          'Request.retry.transient',
          'Completion.Succeeded',
          'Completion.Failed',
          'Completion.TimedOut',
          'Callback.GaveUp',
          'Poll.DescribeCalls',
          'Poll.OldestPendingAgeSeconds',
          'ApproximateAgeOfOldestMessage',
        ]),
      );
    });
  });
});

/** Files that copy facts of serverless.yml by hand, for the benches and the local stack, held to the template. */
describe('the copies of serverless.yml', () => {
  it('support/function-build.ts builds with the esbuild options custom.esbuild gives every function', async () => {
    const { plugins, ...options } = await functionBuildOptions();
    // Where and how serverless-esbuild packs, which esbuild itself never sees; and esbuild's default (no map).
    const {
      plugins: pluginsFile,
      exclude,
      outputWorkFolder,
      watch,
      outputFileExtension,
      sourcemap,
      ...esbuild
    } = service.custom.esbuild;

    expect(options).toEqual(esbuild);
    expect(sourcemap).toBe(false);
    expect(outputFileExtension).toBe('.js');
    const pluginsModule = new URL(`../${pluginsFile}`, import.meta.url).href;
    const named = (list: { name: string }[]) => list.map((plugin) => plugin.name);
    expect(named(plugins)).toEqual(named((await import(pluginsModule)).default));
  });

  it('local/resources.ts names the queues, their dead-letter queues and consumers, the table and the bus', () => {
    const stack = stackResources('prod');
    const functionNameOf = (logicalId: string) => resource(logicalId).Properties.FunctionName;
    const consumersOf = (queueId: string) =>
      ofType('AWS::Lambda::EventSourceMapping')
        .map(([, r]) => r.Properties as { EventSourceArn: unknown; FunctionName: { 'Fn::GetAtt': [string] } })
        .filter((mapping) => JSON.stringify(mapping.EventSourceArn) === JSON.stringify(arn(queueId)))
        .map((mapping) => functionNameOf(mapping.FunctionName['Fn::GetAtt'][0]));
    const requestQueues = ofType('AWS::SQS::Queue').filter(([, r]) => r.Properties.RedrivePolicy);
    const fromTemplate = requestQueues.map(([queueId, queue]) => {
      const redrive = queue.Properties.RedrivePolicy as {
        deadLetterTargetArn: { 'Fn::GetAtt': [string] };
        maxReceiveCount: number;
      };
      const deadLetterQueueId = redrive.deadLetterTargetArn['Fn::GetAtt'][0];
      expect(consumersOf(deadLetterQueueId)).toEqual([stack.deadLetterFunctionName]);
      return {
        queueName: queue.Properties.QueueName,
        deadLetterQueueName: resource(deadLetterQueueId).Properties.QueueName,
        functionNames: consumersOf(queueId),
        maxReceiveCount: redrive.maxReceiveCount,
      };
    });

    expect(fromTemplate).toEqual(
      stack.queues.map(({ action, functionName, ...queue }) => {
        expect(queue.queueName).toBe(`scaling-detach-prod-${action}.fifo`);
        return { ...queue, functionNames: [functionName] };
      }),
    );
    const table = resource('OperationsTable').Properties;
    expect(table.TableName).toBe(stack.ledgerTable);
    expect({
      AttributeDefinitions: table.AttributeDefinitions,
      KeySchema: table.KeySchema,
      GlobalSecondaryIndexes: table.GlobalSecondaryIndexes,
    }).toEqual(LEDGER_TABLE_KEYS);
    expect(resource('EventBus').Properties.Name).toBe(stack.eventBusName);
    expect(functionNameOf('PollActivitiesLambdaFunction')).toBe(stack.pollFunctionName);
    expect(functionNameOf('WebhookLambdaFunction')).toBe(stack.webhookFunctionName);
  });

  it("local/http-api.ts serves the HTTP API's routes, every one to the webhook", () => {
    const routes = ofType('AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties);

    expect(routes.map((route) => route.RouteKey).sort()).toEqual([...WEBHOOK_ROUTES].sort());
    for (const route of routes) {
      expect(route.Target).toEqual({
        'Fn::Join': ['/', ['integrations', { Ref: 'HttpApiIntegrationWebhook' }]],
      });
    }
    expect(resource('HttpApiIntegrationWebhook').Properties.IntegrationUri).toEqual(
      arn('WebhookLambdaFunction'),
    );
  });
});
