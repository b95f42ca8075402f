import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeSeedError, EmulatorSeed, SeedAddition } from './seed.ts';
import { SEED_SCHEMA_PATH } from './seed-schema.ts';

const group = { scalingGroupId: 'asg-1', regionId: 'cn-hangzhou', minSize: 0, maxSize: 3 };
const tencentGroup = { autoScalingGroupId: 'asg-t1', region: 'ap-guangzhou', minSize: 0, maxSize: 3 };

/** The one line a seed is refused with, or 'accepted'. */
function refusal(seed: unknown, schema: typeof EmulatorSeed = EmulatorSeed): string {
  const parsed = schema.safeParse(seed);
  return parsed.success ? 'accepted' : describeSeedError(parsed.error);
}

describe('a seed that does not hold is refused with one line naming the path', () => {
  it.each([
    [
      'an unknown ESS lifecycle state',
      {
        aliyun: {
          scalingGroups: [group],
          instances: [{ instanceId: 'i-1', scalingGroupId: 'asg-1', lifecycleState: 'Sleeping' }],
        },
      },
      /^aliyun\.instances\[0\]\.lifecycleState: Invalid option: expected one of "InService"\|/,
    ],
    [
      'an unknown Tencent lifecycle state',
      {
        tencent: {
          groups: [tencentGroup],
          instances: [{ instanceId: 'ins-1', autoScalingGroupId: 'asg-t1', lifeCycleState: 'IN_SERVICES' }],
        },
      },
      /^tencent\.instances\[0\]\.lifeCycleState: Invalid option: expected one of "IN_SERVICE"\|/,
    ],
    [
      'minSize above maxSize',
      { aliyun: { scalingGroups: [{ ...group, minSize: 5, maxSize: 2 }] } },
      /^aliyun\.scalingGroups\[0\]\.minSize: minSize 5 is above maxSize 2$/,
    ],
    [
      'a Tencent minSize above maxSize',
      { tencent: { groups: [{ ...tencentGroup, minSize: 4, maxSize: 1 }] } },
      /^tencent\.groups\[0\]\.minSize: minSize 4 is above maxSize 1$/,
    ],
    [
      'a desired capacity above maxSize',
      { aliyun: { scalingGroups: [{ ...group, desiredCapacity: 7 }] } },
      /^aliyun\.scalingGroups\[0\]\.desiredCapacity: desiredCapacity 7 is outside minSize 0 \.\. maxSize 3$/,
    ],
    [
      'a desired capacity below minSize',
      { tencent: { groups: [{ ...tencentGroup, minSize: 2, desiredCapacity: 1 }] } },
      /^tencent\.groups\[0\]\.desiredCapacity: desiredCapacity 1 is outside minSize 2 \.\. maxSize 3$/,
    ],
    [
      'an instance naming a group the seed does not have',
      { aliyun: { scalingGroups: [group], instances: [{ instanceId: 'i-1', scalingGroupId: 'asg-nope' }] } },
      /^aliyun\.instances\[0\]\.scalingGroupId: names group "asg-nope", which the seed does not have$/,
    ],
    [
      'a Tencent instance naming a group the seed does not have',
      { tencent: { instances: [{ instanceId: 'ins-1', autoScalingGroupId: 'asg-nope' }] } },
      /^tencent\.instances\[0\]\.autoScalingGroupId: names group "asg-nope", which the seed does not have$/,
    ],
    [
      'a duplicate instance id',
      {
        aliyun: {
          scalingGroups: [group],
          instances: [
            { instanceId: 'i-1', scalingGroupId: 'asg-1' },
            { instanceId: 'i-1', scalingGroupId: 'asg-1' },
          ],
        },
      },
      /^aliyun\.instances\[1\]: instanceId "i-1" is named twice$/,
    ],
    [
      'a duplicate group id',
      { tencent: { groups: [tencentGroup, tencentGroup] } },
      /^tencent\.groups\[1\]: autoScalingGroupId "asg-t1" is named twice$/,
    ],
    [
      'an unknown key, with the nearest known one',
      { aliyun: { scalingGroups: [{ ...group, minsize: 1 }] } },
      /^aliyun\.scalingGroups\[0\]\.minsize: unknown key \(did you mean "minSize"\?\)$/,
    ],
    [
      'an unknown key at the top',
      { credential: [] },
      /^credential: unknown key \(did you mean "credentials"\?\)$/,
    ],
    [
      'an unknown key deep in a list',
      {
        aliyun: {
          scalingGroups: [
            { ...group, vServerGroups: [{ loadBalancerId: 'lb', vServerGroup: 'r', port: 1 }] },
          ],
        },
      },
      /aliyun\.scalingGroups\[0\]\.vServerGroups\[0\]\.vServerGroup: unknown key \(did you mean "vServerGroupId"\?\)/,
    ],
    [
      'an unknown key like nothing known',
      { aliyun: { zzzzzzzzzzzz: 1 } },
      /^aliyun\.zzzzzzzzzzzz: unknown key$/,
    ],
  ])('%s', (_name, seed, line) => {
    const message = refusal(seed);

    expect(message).toMatch(line);
    expect(message).not.toContain('\n');
  });

  it('takes a seed that holds, and one whose instances join groups of the running world when added', () => {
    expect(
      refusal({
        aliyun: { scalingGroups: [group], instances: [{ instanceId: 'i-1', scalingGroupId: 'asg-1' }] },
      }),
    ).toBe('accepted');
    expect(
      refusal(
        { aliyun: { instances: [{ instanceId: 'i-1', scalingGroupId: 'asg-elsewhere' }] } },
        SeedAddition,
      ),
    ).toBe('accepted');
  });
});

describe('the JSON Schema (seed.schema.json) says the same', () => {
  type Node = {
    properties: Record<string, Node>;
    items: Node;
    additionalProperties?: boolean;
    enum?: string[];
    description?: string;
  };
  const schema = JSON.parse(readFileSync(SEED_SCHEMA_PATH, 'utf8')) as Node;
  const aliyun = schema.properties.aliyun as Node;
  const tencent = schema.properties.tencent as Node;
  const essGroup = (aliyun.properties.scalingGroups as Node).items;
  const essInstance = (aliyun.properties.instances as Node).items;
  const tencentGroup = (tencent.properties.groups as Node).items;
  const tencentInstance = (tencent.properties.instances as Node).items;

  it('no key it does not know, at any level', () => {
    const objects = [schema, aliyun, tencent, essGroup, essInstance, tencentGroup, tencentInstance];

    expect(objects.map((node) => node.additionalProperties)).toEqual(objects.map(() => false));
  });

  it('the lifecycle states the clouds have, and only those', () => {
    expect(essInstance.properties.lifecycleState?.enum).toContain('InService');
    expect(essInstance.properties.lifecycleState?.enum).not.toContain('Sleeping');
    expect(tencentInstance.properties.lifeCycleState?.enum).toContain('IN_SERVICE');
  });

  it('the sizes, the membership and the unique ids, in words where JSON Schema has no rule for them', () => {
    expect(essGroup.properties.minSize?.description).toBe('At most maxSize.');
    expect(tencentGroup.properties.desiredCapacity?.description).toMatch(/Between minSize and maxSize/);
    expect(essInstance.properties.scalingGroupId?.description).toMatch(/A scalingGroupId of this seed/);
    expect(tencentInstance.properties.instanceId?.description).toMatch(/Named once/);
  });
});
