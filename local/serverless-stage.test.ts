import { describe, expect, it } from 'vitest';
import { stageOptions } from './serverless-stage.ts';

describe('npm run package / deploy: stage and region', () => {
  it('takes --stage and --region, and passes any other option on as given', () => {
    expect(
      stageOptions(
        'deploy',
        ['--region', 'us-east-1', '--stage', 'dev', '--param=alarmTopicArn=arn:x', '--verbose'],
        {},
      ),
    ).toEqual({ stage: 'dev', region: 'us-east-1', rest: ['--param=alarmTopicArn=arn:x', '--verbose'] });
  });

  it('defaults the stage to prod and the region to AWS_REGION, then AWS_DEFAULT_REGION', () => {
    expect(
      stageOptions('package', [], { AWS_REGION: 'ap-southeast-1', AWS_DEFAULT_REGION: 'eu-west-1' }),
    ).toEqual({
      stage: 'prod',
      region: 'ap-southeast-1',
      rest: [],
    });
    expect(stageOptions('package', [], { AWS_DEFAULT_REGION: 'eu-central-1' })).toMatchObject({
      region: 'eu-central-1',
    });
    expect(stageOptions('package', ['--region', 'us-west-2'], { AWS_REGION: 'eu-west-1' })).toMatchObject({
      region: 'us-west-2',
    });
  });

  it('refuses to pick a region itself, a malformed one, and the local stage', () => {
    expect(() => stageOptions('package', [], {})).toThrow(/no region: pass --region/);
    expect(() => stageOptions('package', [], { AWS_REGION: '' })).toThrow(/no region/);
    expect(() => stageOptions('package', ['--region', 'Ireland'], {})).toThrow(/not an AWS region/);
    expect(() => stageOptions('deploy', ['--stage', 'local', '--region', 'eu-west-1'], {})).toThrow(
      /local stage is npm start/,
    );
    expect(() => stageOptions('deploy', ['--region'], {})).toThrow(/--region needs a value/);
  });

  it('--help is asked for, not an error', () => {
    expect(stageOptions('deploy', ['--help'], {})).toBe('help');
  });
});
