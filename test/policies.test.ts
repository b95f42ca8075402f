import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/**
 * docs/policies/ grant exactly the actions the clients call: an action a client starts calling must be added to the
 * member policy, and one no client calls any more must go. The actions are read from the clients' sources (every
 * cloud call goes through their `call(action, ...)`).
 */
const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');
const calledActions = (...paths: string[]) =>
  new Set(
    paths.flatMap((path) =>
      [...read(path).matchAll(/\bcall\(\s*'([A-Z][A-Za-z]+)'/g)].map((m) => m[1] as string),
    ),
  );

type Statement = { Action?: string | string[]; action?: string | string[] };
const granted = (path: string, prefix: string) => {
  const policy = JSON.parse(read(path)) as { Statement?: Statement[]; statement?: Statement[] };
  return new Set(
    (policy.Statement ?? policy.statement ?? [])
      .flatMap((statement) => [statement.Action ?? statement.action ?? []].flat())
      .map((action) => {
        expect(action.startsWith(prefix), `${action} in ${path}`).toBe(true);
        return action.slice(prefix.length);
      }),
  );
};

describe('docs/policies/ match the calls the clients make', () => {
  it('Alibaba: the member role grants exactly the ESS actions EssClient calls', () => {
    const called = calledActions('shared/providers/aliyun/ess-client.ts');
    expect(called.size).toBeGreaterThanOrEqual(7);
    expect(granted('docs/policies/aliyun-member-role-policy.json', 'ess:')).toEqual(called);
  });

  it('Tencent: the member role grants exactly the AS actions the API 3.0 and v2 clients call', () => {
    const called = calledActions(
      'shared/providers/tencent/as-client.ts',
      'shared/providers/tencent/v2-client.ts',
    );
    expect(called.size).toBeGreaterThanOrEqual(7);
    expect(granted('docs/policies/tencent-member-role-policy.json', 'as:')).toEqual(called);
  });

  it('the principals may only assume roles, and the trust policies require an external id', () => {
    expect(granted('docs/policies/aliyun-principal-policy.json', 'sts:')).toEqual(new Set(['AssumeRole']));
    expect(granted('docs/policies/tencent-principal-policy.json', 'sts:')).toEqual(new Set(['AssumeRole']));
    expect(read('docs/policies/aliyun-member-role-trust-policy.json')).toContain('"sts:ExternalId"');
    expect(read('docs/policies/tencent-member-role-trust-policy.json')).toContain('"sts:external_id"');
  });
});
