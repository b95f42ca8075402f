import { describe, expect, it } from 'vitest';
import { ESS_INSTANCE_STATES, instanceStateAccepted, TENCENT_INSTANCE_STATES } from './instance-states.ts';

describe('instance state model', () => {
  it.each(['Pending', 'Pending:Wait', 'Removing', 'Removing:Wait'])('ESS refuses %s', (state) => {
    expect(instanceStateAccepted('aliyun', state)).toBe(false);
  });

  it.each(['InService', 'Standby', 'Protected', 'Stopped'])('ESS takes %s', (state) => {
    expect(instanceStateAccepted('aliyun', state)).toBe(true);
  });

  it('Tencent takes IN_SERVICE only', () => {
    const accepted = Object.keys(TENCENT_INSTANCE_STATES).filter((s) => instanceStateAccepted('tencent', s));

    expect(accepted).toEqual(['IN_SERVICE']);
  });

  it('refuses a state the table does not know, and does not read inherited names', () => {
    expect(instanceStateAccepted('aliyun', 'Detached')).toBe(false);
    expect(instanceStateAccepted('tencent', 'toString')).toBe(false);
  });

  it('lists every ESS state of the DescribeScalingInstances reference', () => {
    expect(Object.keys(ESS_INSTANCE_STATES).sort()).toEqual(
      [
        'InService',
        'Pending',
        'Pending:Wait',
        'Protected',
        'Removing',
        'Removing:Wait',
        'Standby',
        'Stopped',
      ].sort(),
    );
  });
});
