/**
 * The documents in docs/policies/ are sufficient and minimal: the emulator enforces them (the default seed loads
 * them from there), every request path of shared/providers succeeds with them whole, and removing any one action
 * from any one of them makes the path that needs it fail with the cloud's refusal naming that action. One emulator
 * of this file's own, reseeded per case through POST /admin/seed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN_HEADER,
  type CloudEmulator,
  DEFAULT_ADMIN_TOKEN,
  DEFAULT_SEED_PATH,
  startEmulator,
} from '../emulator/server.ts';
import { EssClient } from '../shared/providers/aliyun/ess-client.ts';
import { AliyunStsClient } from '../shared/providers/aliyun/sts-client.ts';
import { createHttpAgent } from '../shared/providers/http.ts';
import { TencentAsClient } from '../shared/providers/tencent/as-client.ts';
import { TencentStsClient } from '../shared/providers/tencent/sts-client.ts';
import { TencentV2Client } from '../shared/providers/tencent/v2-client.ts';

const POLICIES_DIR = new URL('../docs/policies/', import.meta.url);
const DEFAULT_SEED = JSON.parse(readFileSync(DEFAULT_SEED_PATH, 'utf8')) as Record<string, unknown>;
/** The deployment's keys in the default seed: the principal policy, and the member policy for its own account. */
const ALIYUN_DEPLOYMENT = { accessKeyId: 'LTAI-emulator-key', accessKeySecret: 'emulator-secret' };
const TENCENT_DEPLOYMENT = { secretId: 'AKIDemulatorTencentKey', secretKey: 'emulator-tencent-secret' };
/** Member accounts of the default seed. */
const SHOP_PROD = { roleArn: 'acs:ram::1000000000000002:role/scaling-detach', externalId: 'ext-shop-prod' };
const SHOP_STAGING = {
  roleArn: 'acs:ram::1000000000000003:role/scaling-detach',
  externalId: 'ext-shop-staging',
};
const GAMES_PROD = {
  roleArn: 'qcs::cam::uin/100000000002:roleName/scaling-detach',
  externalId: 'ext-games-prod',
};
const GAMES_STAGING = {
  roleArn: 'qcs::cam::uin/100000000003:roleName/scaling-detach',
  externalId: 'ext-games-staging',
};

let emulator: CloudEmulator;
let url: string;
const httpAgent = createHttpAgent();

type Json = Record<string, unknown>;
const policyFiles = readdirSync(POLICIES_DIR).filter(
  (name) => /^(aliyun|tencent)-.*\.json$/.test(name) && name !== 'deployer-iam-policy.json',
);
const readPolicy = (file: string): Json =>
  JSON.parse(readFileSync(new URL(file, POLICIES_DIR), 'utf8')) as Json;
const statementsOf = (policy: Json) => (policy.Statement ?? policy.statement) as Json[];
const actionList = (statement: Json): string[] => {
  const actions = (statement.Action ?? statement.action) as string | string[];
  return typeof actions === 'string' ? [actions] : actions;
};
/** Every action a document names, as written (`name/sts:AssumeRole` is sts:AssumeRole). */
const actionsOf = (file: string): string[] =>
  [...new Set(statementsOf(readPolicy(file)).flatMap(actionList))].map((a) => a.replace(/^name\//, ''));

/** The document without one action; a statement left with none goes. */
function withoutAction(file: string, action: string): Json {
  const policy = readPolicy(file);
  const key = 'Statement' in policy ? 'Statement' : 'statement';
  const actionKey = key === 'Statement' ? 'Action' : 'action';
  const statements = statementsOf(policy)
    .map((s) => ({ ...s, [actionKey]: actionList(s).filter((a) => a.replace(/^name\//, '') !== action) }))
    .filter((s) => (s[actionKey] as string[]).length > 0);
  return { ...policy, [key]: statements };
}

/** The default seed with every reference to `file` replaced by the given document (its placeholder values kept). */
function seedWith(file: string, document: Json): Json {
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (node && typeof node === 'object') {
      const object = node as Json;
      if (typeof object.file === 'string' && object.file.endsWith(`/${file}`))
        return { document, ...(object.values !== undefined && { values: object.values }) };
      return Object.fromEntries(Object.entries(object).map(([k, v]) => [k, walk(v)]));
    }
    return node;
  };
  return walk(DEFAULT_SEED) as Json;
}

async function reseed(seed: Json): Promise<void> {
  const response = await request(`${url}/admin/seed`, {
    method: 'POST',
    headers: { [ADMIN_TOKEN_HEADER]: DEFAULT_ADMIN_TOKEN, 'content-type': 'application/json' },
    body: JSON.stringify(seed),
  });
  expect(response.statusCode, await response.body.text()).toBe(200);
}

// Clients, as the service builds them: the deployment's keys, or the temporary credentials of an assumed role.
const aliyunSts = () =>
  new AliyunStsClient({ credentials: async () => ALIYUN_DEPLOYMENT, httpAgent, endpointOverride: url });
const tencentSts = () =>
  new TencentStsClient({ credentials: async () => TENCENT_DEPLOYMENT, httpAgent, endpointOverride: url });
const assumeAliyun = (role: typeof SHOP_PROD) =>
  aliyunSts().assumeRole({ ...role, roleSessionName: 'scaling-detach-test' });
const assumeTencent = (role: typeof GAMES_PROD) =>
  tencentSts().assumeRole({ ...role, roleSessionName: 'scaling-detach-test', region: 'ap-guangzhou' });
async function essIn(role?: typeof SHOP_PROD): Promise<EssClient> {
  const credentials = role ? await assumeAliyun(role) : ALIYUN_DEPLOYMENT;
  return new EssClient({ credentials: async () => credentials, httpAgent, endpointOverride: url });
}
async function tencentIn(role?: typeof GAMES_PROD) {
  const credentials = role ? await assumeTencent(role) : TENCENT_DEPLOYMENT;
  const options = { credentials: async () => credentials, httpAgent, endpointOverride: url };
  return { as: new TencentAsClient(options), v2: new TencentV2Client(options) };
}

/** A group of the account a path acts in: the member account's through its role, or the deployment's own. */
interface AliyunTarget {
  role?: typeof SHOP_PROD;
  group: string;
  instances: [string, string];
  lb: string;
  vServerGroup: string;
  albServerGroup: string;
}
const SHOP_PROD_GROUP: AliyunTarget = {
  role: SHOP_PROD,
  group: 'asg-shopprod01',
  instances: ['i-shopprod01', 'i-shopprod02'],
  lb: 'lb-shopprod01',
  vServerGroup: 'rsp-shopprod01',
  albServerGroup: 'sgp-shopprod01',
};
const DEPLOYMENT_ESS_GROUP: AliyunTarget = {
  group: 'asg-demo0001',
  instances: ['i-demo0001', 'i-demo0002'],
  lb: 'lb-demo0001',
  vServerGroup: 'rsp-demo0001',
  albServerGroup: 'sgp-demo0001',
};
interface TencentTarget {
  role?: typeof GAMES_PROD;
  group: string;
  instances: [string, string, string];
}
const GAMES_PROD_GROUP: TencentTarget = {
  role: GAMES_PROD,
  group: 'asg-gamesprod1',
  instances: ['ins-gamesprod1', 'ins-gamesprod2', 'ins-gamesprod3'],
};
const DEPLOYMENT_AS_GROUP: TencentTarget = {
  group: 'asg-demo0002',
  instances: ['ins-demo0001', 'ins-demo0002', 'ins-demo0004'],
};

const HANGZHOU = 'cn-hangzhou';
const GUANGZHOU = 'ap-guangzhou';

/** The request path of shared/providers that needs each ESS action, in a target account. */
const essPaths: Record<string, (t: AliyunTarget) => Promise<unknown>> = {
  'ess:DetachInstances': async (t) =>
    (await essIn(t.role)).detachInstances({
      region: HANGZHOU,
      scalingGroupId: t.group,
      instanceIds: [t.instances[0]],
    }),
  'ess:RemoveInstances': async (t) =>
    (await essIn(t.role)).removeInstances({
      region: HANGZHOU,
      scalingGroupId: t.group,
      instanceIds: [t.instances[1]],
    }),
  'ess:DetachVServerGroups': async (t) =>
    (await essIn(t.role)).detachVServerGroups({
      region: HANGZHOU,
      scalingGroupId: t.group,
      vServerGroups: [
        { loadBalancerId: t.lb, vServerGroupAttributes: [{ vServerGroupId: t.vServerGroup, port: 80 }] },
      ],
    }),
  'ess:DetachAlbServerGroups': async (t) =>
    (await essIn(t.role)).detachAlbServerGroups({
      region: HANGZHOU,
      scalingGroupId: t.group,
      albServerGroups: [{ albServerGroupId: t.albServerGroup, port: 8080 }],
    }),
  'ess:DescribeScalingActivities': async (t) =>
    (await essIn(t.role)).hasActivityInProgress(HANGZHOU, t.group),
  'ess:DescribeScalingGroups': async (t) => {
    const groups = await (await essIn(t.role)).describeScalingGroups(HANGZHOU, [t.group]);
    expect(groups.map((g) => g.ScalingGroupId)).toEqual([t.group]);
  },
  'ess:DescribeScalingInstances': async (t) =>
    (await essIn(t.role)).describeScalingInstances(HANGZHOU, t.group, [t.instances[0]]),
};

/** The same for each AS action (API 3.0 and legacy v2). */
const asPaths: Record<string, (t: TencentTarget) => Promise<unknown>> = {
  'as:DetachInstances': async (t) =>
    (await tencentIn(t.role)).as.detachInstances(GUANGZHOU, t.group, [t.instances[0]]),
  'as:RemoveInstances': async (t) =>
    (await tencentIn(t.role)).as.removeInstances(GUANGZHOU, t.group, [t.instances[1]]),
  'as:DetachInstance': async (t) =>
    (await tencentIn(t.role)).v2.detachInstance(GUANGZHOU, t.group, [t.instances[2]], 1),
  'as:DescribeAutoScalingActivities': async (t) =>
    (await tencentIn(t.role)).as.describeGroupActivities(GUANGZHOU, t.group, new Date(Date.now() - 60_000)),
  'as:DescribeAutoScalingGroups': async (t) => {
    const group = await (await tencentIn(t.role)).as.describeGroup(GUANGZHOU, t.group);
    expect(group?.AutoScalingGroupId).toBe(t.group);
  },
  'as:DescribeAutoScalingInstances': async (t) =>
    (await tencentIn(t.role)).as.describeInstances(GUANGZHOU, [t.instances[0]]),
  'as:DescribeScalingInstance': async (t) =>
    (await tencentIn(t.role)).v2.instancesInGroup(GUANGZHOU, t.group, [t.instances[0]]),
};

interface Path {
  name: string;
  run: () => Promise<unknown>;
  /** The code the cloud refuses the call with when the document lacks the action. */
  refusal: string;
}

/** Every request path that needs `action` of `file`: the documents' actions are exactly the keys here. */
function pathsFor(file: string, action: string): Path[] {
  const stsAliyun = {
    name: 'AliyunStsClient.assumeRole (shop-prod)',
    run: () => assumeAliyun(SHOP_PROD),
    refusal: 'NoPermission',
  };
  const stsTencent = {
    name: 'TencentStsClient.assumeRole (games-prod)',
    run: () => assumeTencent(GAMES_PROD),
    refusal: 'AuthFailure.UnauthorizedOperation',
  };
  switch (file) {
    case 'aliyun-principal-policy.json':
    case 'aliyun-member-role-trust-policy.json':
      return action === 'sts:AssumeRole' ? [stsAliyun] : [];
    case 'tencent-principal-policy.json':
    case 'tencent-member-role-trust-policy.json':
      return action === 'sts:AssumeRole' ? [stsTencent] : [];
    case 'aliyun-member-role-policy.json': {
      const path = essPaths[action];
      return path
        ? [
            {
              name: `${action} in shop-prod, through its role`,
              run: () => path(SHOP_PROD_GROUP),
              refusal: 'Forbidden.RAM',
            },
            {
              name: `${action} in the deployment's own account`,
              run: () => path(DEPLOYMENT_ESS_GROUP),
              refusal: 'Forbidden.RAM',
            },
          ]
        : [];
    }
    case 'tencent-member-role-policy.json': {
      const path = asPaths[action];
      // Legacy v2 answers its own code for the same refusal.
      const refusal =
        action === 'as:DetachInstance' || action === 'as:DescribeScalingInstance'
          ? 'UnauthorizedOperation'
          : 'AuthFailure.UnauthorizedOperation';
      return path
        ? [
            { name: `${action} in games-prod, through its role`, run: () => path(GAMES_PROD_GROUP), refusal },
            {
              name: `${action} in the deployment's own account`,
              run: () => path(DEPLOYMENT_AS_GROUP),
              refusal,
            },
          ]
        : [];
    }
    default:
      return [];
  }
}

const cases = policyFiles.flatMap((file) => actionsOf(file).map((action) => ({ file, action })));

beforeAll(async () => {
  emulator = await startEmulator();
  url = emulator.url;
});
afterAll(async () => {
  await emulator.close();
});

describe('docs/policies/: the documents the emulator enforces', () => {
  it('are the ones the default seed loads, for every key and role of the deployment and its member accounts', () => {
    const referenced = JSON.stringify(DEFAULT_SEED).match(/\.\.\/docs\/policies\/[a-z-]+\.json/g) ?? [];
    expect(new Set(referenced.map((path) => path.slice('../docs/policies/'.length)))).toEqual(
      new Set(policyFiles),
    );
  });

  it('name every action some request path needs, and each action has such a path', () => {
    expect(cases.length).toBeGreaterThan(0);
    for (const { file, action } of cases)
      expect(pathsFor(file, action), `${file}: ${action}`).not.toEqual([]);
  });
});

describe('sufficient: with the documents whole, every request path succeeds', () => {
  it.each(
    cases.flatMap(({ file, action }) => pathsFor(file, action).map((path) => ({ file, action, path }))),
  )('$file $action: $path.name', async ({ path }) => {
    await reseed(DEFAULT_SEED);
    await path.run();
  });
});

describe('minimal: without any one action, the path that needs it is refused with a message naming it', () => {
  it.each(cases)('$file without $action', async ({ file, action }) => {
    await reseed(seedWith(file, withoutAction(file, action)));
    for (const path of pathsFor(file, action)) {
      const refused = await path.run().then(
        () => undefined,
        (error: unknown) => error as { code: string; message: string },
      );
      expect(refused, path.name).toMatchObject({ code: path.refusal });
      expect(refused?.message, path.name).toContain(action);
    }
  });
});

describe('accounts: one account’s credentials do not see another’s groups', () => {
  beforeAll(async () => {
    await reseed(DEFAULT_SEED);
  });

  it('Alibaba: shop-staging’s role and the deployment’s own keys see no group of shop-prod (InvalidScalingGroupId.NotFound)', async () => {
    for (const ess of [await essIn(SHOP_STAGING), await essIn()]) {
      expect(await ess.describeScalingGroups(HANGZHOU, ['asg-shopprod01'])).toEqual([]);
      await expect(
        ess.detachInstances({
          region: HANGZHOU,
          scalingGroupId: 'asg-shopprod01',
          instanceIds: ['i-shopprod01'],
        }),
      ).rejects.toMatchObject({ code: 'InvalidScalingGroupId.NotFound' });
    }
    // The member's own role sees it, and not the deployment's group.
    const shop = await essIn(SHOP_PROD);
    expect(
      (await shop.describeScalingGroups(HANGZHOU, ['asg-shopprod01'])).map((g) => g.ScalingGroupId),
    ).toEqual(['asg-shopprod01']);
    expect(await shop.describeScalingGroups(HANGZHOU, ['asg-demo0001'])).toEqual([]);
  });

  it('Tencent: games-staging’s role and the deployment’s own keys see no group of games-prod (ResourceNotFound.AutoScalingGroupNotFound)', async () => {
    for (const { as } of [await tencentIn(GAMES_STAGING), await tencentIn()]) {
      expect(await as.describeGroup(GUANGZHOU, 'asg-gamesprod1')).toBeUndefined();
      await expect(as.detachInstances(GUANGZHOU, 'asg-gamesprod1', ['ins-gamesprod1'])).rejects.toMatchObject(
        {
          code: 'ResourceNotFound.AutoScalingGroupNotFound',
        },
      );
    }
    const games = await tencentIn(GAMES_PROD);
    expect((await games.as.describeGroup(GUANGZHOU, 'asg-gamesprod1'))?.AutoScalingGroupId).toBe(
      'asg-gamesprod1',
    );
  });

  it('refuses AssumeRole without the account’s external id, or with another account’s', async () => {
    await expect(
      aliyunSts().assumeRole({ roleArn: SHOP_PROD.roleArn, roleSessionName: 'scaling-detach-test' }),
    ).rejects.toMatchObject({ code: 'NoPermission' });
    await expect(assumeAliyun({ ...SHOP_PROD, externalId: SHOP_STAGING.externalId })).rejects.toMatchObject({
      code: 'NoPermission',
    });
    await expect(
      assumeTencent({ ...GAMES_PROD, externalId: GAMES_STAGING.externalId }),
    ).rejects.toMatchObject({
      code: 'AuthFailure.UnauthorizedOperation',
    });
  });

  it('a member account’s role may not assume another member’s role: the member policy grants no sts:AssumeRole', async () => {
    const shop = await assumeAliyun(SHOP_PROD);
    const chained = new AliyunStsClient({ credentials: async () => shop, httpAgent, endpointOverride: url });
    const refused = await chained
      .assumeRole({ ...SHOP_STAGING, roleSessionName: 'scaling-detach-test' })
      .catch((error: unknown) => error as { code: string; message: string });
    expect(refused).toMatchObject({ code: 'NoPermission' });
    expect((refused as { message: string }).message).toContain('sts:AssumeRole');
  });
});
