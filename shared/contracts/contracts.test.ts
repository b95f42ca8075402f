import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openApiText, SCHEMAS, schemaText } from '../../events/export-schemas.ts';
import { ACTIONS, type Action, CompletionEvent, DetachInstancesRequest, REQUEST_SCHEMAS } from './index.ts';

const readEvent = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../events/${name}`, import.meta.url), 'utf8'));

describe('contracts', () => {
  it.each(Object.keys(SCHEMAS))(
    'events/schemas/%s.schema.json is the export of the zod contract (npm run schemas)',
    (name) => {
      const committed = readFileSync(
        new URL(`../../events/schemas/${name}.schema.json`, import.meta.url),
        'utf8',
      );

      expect(committed).toBe(schemaText(SCHEMAS[name] as never));
    },
  );

  const samples: [string, Action][] = [
    ...ACTIONS.map((action) => [`${action}.sqs.json`, action] as [string, Action]),
    ['detach-instances.tencent.sqs.json', 'detach-instances'],
    ['detach-instances.tencent-v2.sqs.json', 'detach-instances'],
    ['remove-instances.tencent.sqs.json', 'remove-instances'],
  ];
  it.each(samples)('the sample SQS event %s carries a valid request', (file, action) => {
    const event = readEvent(file);

    expect(REQUEST_SCHEMAS[action].safeParse(JSON.parse(event.Records[0].body)).error).toBeUndefined();
  });

  it('events/openapi.json is the export of the webhook routes and contracts (npm run schemas)', () => {
    expect(readFileSync(new URL('../../events/openapi.json', import.meta.url), 'utf8')).toBe(openApiText());
  });

  it('the sample EventBridge event carries a valid completion event', () => {
    expect(CompletionEvent.safeParse(readEvent('record-delivery.eventbridge.json').detail).success).toBe(
      true,
    );
  });

  it('a request id is usable as a ClientToken: at most 64 ASCII characters', () => {
    const base = { provider: 'aliyun', region: 'cn-hangzhou', scalingGroupId: 'asg-1', instanceIds: ['i-1'] };

    expect(DetachInstancesRequest.safeParse({ ...base, requestId: 'a'.repeat(64) }).success).toBe(true);
    expect(DetachInstancesRequest.safeParse({ ...base, requestId: 'a'.repeat(65) }).success).toBe(false);
    expect(DetachInstancesRequest.safeParse({ ...base, requestId: 'naïve' }).success).toBe(false);
  });

  it('refuses duplicate instance ids and an unknown provider', () => {
    const base = { requestId: 'r', region: 'cn-hangzhou', scalingGroupId: 'asg-1' };

    expect(
      DetachInstancesRequest.safeParse({ ...base, provider: 'aliyun', instanceIds: ['i-1', 'i-1'] }).success,
    ).toBe(false);
    expect(DetachInstancesRequest.safeParse({ ...base, provider: 'gcp', instanceIds: ['i-1'] }).success).toBe(
      false,
    );
  });

  describe("the seeds' limits", () => {
    const base = { requestId: 'r', provider: 'aliyun', region: 'cn-hangzhou', scalingGroupId: 'asg-1' };
    const lb = (id: string, groups = 1, port = 80) => ({
      loadBalancerId: id,
      vServerGroupAttributes: Array.from({ length: groups }, (_, i) => ({
        vServerGroupId: `rsp-${i}`,
        port,
      })),
    });
    const issuesOf = (action: keyof typeof REQUEST_SCHEMAS, body: object) =>
      REQUEST_SCHEMAS[action].safeParse({ ...base, ...body }).error?.issues.map((issue) => issue.message) ??
      [];

    it('RemoveInstances: RemovePolicy is release (default) or recycle; StopInstanceTimeout 30-240', () => {
      const parsed = REQUEST_SCHEMAS['remove-instances'].parse({ ...base, instanceIds: ['i-1'] });

      expect(parsed).toMatchObject({ removePolicy: 'release' });
      expect(issuesOf('remove-instances', { instanceIds: ['i-1'], removePolicy: 'stop' })).toHaveLength(1);
      expect(issuesOf('remove-instances', { instanceIds: ['i-1'], stopInstanceTimeout: 29 })).toHaveLength(1);
      expect(issuesOf('remove-instances', { instanceIds: ['i-1'], stopInstanceTimeout: 240 })).toEqual([]);
    });

    it('DetachVServerGroups: at most 5 load balancers x 5 groups, ports 1-65535', () => {
      expect(
        issuesOf('detach-vserver-groups', { vServerGroups: [lb('lb-1', 5)], forceDetach: true }),
      ).toEqual([]);
      expect(
        issuesOf('detach-vserver-groups', {
          vServerGroups: ['a', 'b', 'c', 'd', 'e', 'f'].map((id) => lb(id)),
        }),
      ).toEqual(['at most 5 load balancers per request']);
      expect(issuesOf('detach-vserver-groups', { vServerGroups: [lb('lb-1', 6)] })).toEqual([
        'at most 5 vServer groups per load balancer',
      ]);
      expect(issuesOf('detach-vserver-groups', { vServerGroups: [lb('lb-1', 1, 0)] })).toEqual([
        'ports are 1-65535',
      ]);
      expect(issuesOf('detach-vserver-groups', { vServerGroups: [lb('lb-1', 1, 65536)] })).toEqual([
        'ports are 1-65535',
      ]);
      expect(issuesOf('detach-vserver-groups', { vServerGroups: [lb('lb-1'), lb('lb-1')] })).toEqual([
        'each load balancer once',
      ]);
    });

    it('DetachAlbServerGroups: ClientToken is at most 64 ASCII characters; ForceDetach is a boolean', () => {
      const albServerGroups = [{ albServerGroupId: 'sgp-1', port: 8080 }];

      expect(
        issuesOf('detach-alb-server-groups', {
          albServerGroups,
          clientToken: 'x'.repeat(64),
          forceDetach: true,
        }),
      ).toEqual([]);
      expect(
        issuesOf('detach-alb-server-groups', { albServerGroups, clientToken: 'x'.repeat(65) }),
      ).toHaveLength(1);
      expect(issuesOf('detach-alb-server-groups', { albServerGroups, clientToken: 'jeton-é' })).toHaveLength(
        1,
      );
      expect(issuesOf('detach-alb-server-groups', { albServerGroups, forceDetach: 'yes' })).toHaveLength(1);
    });
  });

  describe('bounded input (#17 defect 13): a request always fits a ledger item', () => {
    const HUGE = 450_000;
    /** Each sample request, with every optional string it may carry, and the path of each string in it. */
    const withStrings = (file: string) => {
      const body = JSON.parse(readEvent(file).Records[0].body) as Record<string, unknown>;
      return {
        ...body,
        callbackUrl: 'https://callbacks.example.com/done',
        ...(body.provider === 'aliyun' && { clientToken: 'token-1' }),
      };
    };
    const stringPaths = (value: unknown, path: (string | number)[] = []): (string | number)[][] =>
      typeof value === 'string'
        ? [path]
        : Array.isArray(value)
          ? value.flatMap((item, i) => stringPaths(item, [...path, i]))
          : value && typeof value === 'object'
            ? Object.entries(value).flatMap(([key, item]) => stringPaths(item, [...path, key]))
            : [];
    const replaced = (body: unknown, path: (string | number)[], text: string): unknown => {
      const copy = structuredClone(body) as Record<string | number, unknown>;
      let at = copy;
      for (const key of path.slice(0, -1)) at = at[key] as Record<string | number, unknown>;
      at[path.at(-1) as string | number] = text;
      return copy;
    };

    it.each(samples)('%s: 450 KB in any one string is refused, naming that field', (file, action) => {
      const body = withStrings(file);
      expect(REQUEST_SCHEMAS[action].safeParse(body).error).toBeUndefined();

      for (const path of stringPaths(body).filter((p) => p[0] !== 'provider' && p[0] !== 'apiVersion')) {
        // The value made long in its own pattern (cn-hangzhouuu...): only a bound on its length refuses it.
        const value = path.reduce<unknown>((at, key) => (at as Record<string | number, unknown>)[key], body);
        const text = `${value}${String(value).at(-1)?.repeat(HUGE)}`;
        const issues = REQUEST_SCHEMAS[action].safeParse(replaced(body, path, text)).error?.issues ?? [];

        expect(
          issues.map((issue) => issue.path),
          path.join('.'),
        ).toContainEqual(path);
      }
    });

    it('a callbackUrl of 2,048 characters is taken, and one of 2,049 refused', () => {
      const body = withStrings('detach-instances.sqs.json');
      const url = (length: number) => `https://e.example.com/${'x'.repeat(length - 22)}`;

      expect(url(2048)).toHaveLength(2048);
      expect(DetachInstancesRequest.safeParse({ ...body, callbackUrl: url(2048) }).success).toBe(true);
      expect(DetachInstancesRequest.safeParse({ ...body, callbackUrl: url(2049) }).error?.issues).toEqual([
        expect.objectContaining({ path: ['callbackUrl'], message: 'must be at most 2048 characters' }),
      ]);
    });
  });
});
