import { loadAwsServiceSpec } from '@aws-cdk/aws-service-spec';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkTemplate } from '../.ci/check-cloudformation.ts';

let spec: Awaited<ReturnType<typeof loadAwsServiceSpec>>;
beforeAll(async () => {
  spec = await loadAwsServiceSpec();
});

const queue = (properties: Record<string, unknown>) => ({ Type: 'AWS::SQS::Queue', Properties: properties });

describe('the CloudFormation check that CI runs on the packaged template', () => {
  it('passes a correct template', () => {
    const template = {
      Resources: {
        Dlq: queue({ FifoQueue: true }),
        Queue: queue({
          FifoQueue: true,
          RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['Dlq', 'Arn'] }, maxReceiveCount: 5 },
        }),
      },
      Outputs: {
        Url: { Value: { Ref: 'Queue' } },
        Arn: { Value: { 'Fn::Sub': '${Queue.Arn}-${AWS::Region}' } },
      },
    };

    expect(checkTemplate(template, spec)).toEqual([]);
  });

  it('finds a misspelled property, a nested one, and a missing required one', () => {
    const template = {
      Resources: {
        Queue: queue({ VisibilityTimout: 30 }),
        Table: {
          Type: 'AWS::DynamoDB::Table',
          Properties: {
            AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
            GlobalSecondaryIndexes: [
              {
                IndexName: 'x',
                KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
                Projection: { ProjectionTyp: 'ALL' },
              },
            ],
          },
        },
      },
    };

    expect(checkTemplate(template, spec)).toEqual([
      'Queue: unknown property VisibilityTimout',
      'Table: missing required property KeySchema',
      'Table.GlobalSecondaryIndexes[0].Projection: unknown property ProjectionTyp',
    ]);
  });

  it('finds dangling Ref, GetAtt and Sub targets and unknown attributes', () => {
    const template = {
      Resources: {
        Queue: queue({ RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['Missing', 'Arn'] } } }),
        Other: queue({ QueueName: { 'Fn::Sub': '${Nope}-q' }, KmsMasterKeyId: { Ref: 'Gone' } }),
      },
      Outputs: { Bad: { Value: { 'Fn::GetAtt': ['Queue', 'Colour'] } } },
    };

    expect(checkTemplate(template, spec).sort()).toEqual(
      [
        'Outputs.Bad.Value: Queue has no attribute Colour',
        'Resources.Other.Properties.KmsMasterKeyId: Ref to unknown Gone',
        'Resources.Other.Properties.QueueName: Ref to unknown Nope',
        'Resources.Queue.Properties.RedrivePolicy.deadLetterTargetArn: GetAtt of unknown resource Missing',
      ].sort(),
    );
  });
});
