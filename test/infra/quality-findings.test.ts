/**
 * The data-quality alert: the rule on the stack's bus, its target and message, read-summary's
 * PutEvents grant and its place among the bus's producers, and the message the local runner's
 * EventBridge stand-in builds from a real finding event with the synthesized rule.
 */
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as sns from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import { QualityFindingsAlert } from '../../infra/feature-pipeline/quality-findings';
import {
  FINDING_EVENT_DETAIL_TYPE,
  type RunSummary,
  SUMMARY_EVENT_SOURCE,
} from '../../lambdas/feature-pipeline/contract';
import { findingDetail, findingEntry } from '../../lambdas/feature-pipeline/quality-findings';
import { hostBusBindings, LocalEventBridge } from '../../localstack/embedded/local-events';
import { environmentOf, synth } from './support';

const logicalId = (s: ReturnType<typeof synth>, construct: { node: { defaultChild?: unknown } }) =>
  s.stack.getLogicalId(construct.node.defaultChild as never);

describe('data-quality findings alert', () => {
  it('matches "Data Quality Finding" events of this account on the stack bus and sends them to the alert topic', () => {
    // Prepare
    const s = synth();
    const bus = logicalId(s, s.stack.events.bus);
    const topic = logicalId(s, s.stack.alerts.topic);
    const role = logicalId(s, s.stack.qualityFindings.publisher);
    const dlq = logicalId(s, s.stack.alerts.deadLetterQueue);

    // Act
    const rule = s.template.findResources('AWS::Events::Rule', {
      Properties: { EventPattern: Match.objectLike({ 'detail-type': [FINDING_EVENT_DETAIL_TYPE] }) },
    });

    // Assess
    const [properties] = Object.values(rule).map((r) => r.Properties);
    expect(Object.keys(rule)).toHaveLength(1);
    expect(properties.EventBusName).toEqual({ Ref: bus });
    expect(properties.EventPattern).toEqual({
      source: [SUMMARY_EVENT_SOURCE],
      'detail-type': [FINDING_EVENT_DETAIL_TYPE],
      account: [{ Ref: 'AWS::AccountId' }],
      detail: { severity: ['warning', 'error'] },
    });
    expect(properties.Targets).toHaveLength(1);
    const [target] = properties.Targets;
    expect(target.Arn).toEqual({ Ref: topic });
    expect(target.RoleArn).toEqual({ 'Fn::GetAtt': [role, 'Arn'] });
    expect(target.DeadLetterConfig).toEqual({ Arn: { 'Fn::GetAtt': [dlq, 'Arn'] } });
    expect(target.RetryPolicy).toEqual({ MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 2 });
    expect(target.InputTransformer.InputPathsMap).toEqual({
      'detail-severity': '$.detail.severity',
      'detail-runId': '$.detail.runId',
      'detail-job': '$.detail.job',
      'detail-gate': '$.detail.gate',
      'detail-message': '$.detail.message',
      'detail-offendingTotal': '$.detail.offendingTotal',
      'detail-offendingText': '$.detail.offendingText',
      'detail-summaryUri': '$.detail.summaryUri',
    });
    expect(target.InputTransformer.InputTemplate).toContain('Data-quality finding (<detail-severity>)');
  });

  it('lets only EventBridge rules of this account assume the publisher role, which may publish to the topic', () => {
    // Prepare
    const s = synth();
    const role = logicalId(s, s.stack.qualityFindings.publisher);
    const topic = logicalId(s, s.stack.alerts.topic);

    // Act
    const roleProperties = s.json.Resources[role].Properties as Record<string, any>;

    // Assess
    expect(roleProperties.AssumeRolePolicyDocument.Statement).toEqual([
      expect.objectContaining({
        Principal: { Service: 'events.amazonaws.com' },
        Condition: expect.objectContaining({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } }),
      }),
    ]);
    s.template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: role }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: 'sns:Publish', Effect: 'Allow', Resource: { Ref: topic } }),
        ]),
      },
    });
  });

  it('gives read-summary, and no other step, the bus name and events:PutEvents on that bus', () => {
    // Prepare
    const s = synth();
    const bus = logicalId(s, s.stack.events.bus);
    const readSummaryRole = s.stack.getLogicalId(
      s.stack.functions.functions['read-summary'].role?.node.defaultChild as never,
    );

    // Act
    const env = environmentOf(s, 'read-summary');
    const others = (['validate-input', 'submit-job', 'job-status', 'cancel-job'] as const).map(
      (name) => environmentOf(s, name).EVENT_BUS_NAME,
    );

    // Assess
    expect(env.EVENT_BUS_NAME).toBeTruthy();
    expect(others).toEqual([undefined, undefined, undefined, undefined]);
    s.template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: readSummaryRole }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: 'events:PutEvents', Resource: { 'Fn::GetAtt': [bus, 'Arn'] } }),
        ]),
      },
    });
    // The bus denies PutEvents to all but its producers: read-summary's role is one of them.
    s.template.hasResourceProperties('AWS::Events::EventBusPolicy', {
      Statement: Match.objectLike({
        Effect: 'Deny',
        Condition: {
          ArnNotEquals: { 'aws:PrincipalArn': Match.arrayWith([{ 'Fn::GetAtt': [readSummaryRole, 'Arn'] }]) },
        },
      }),
    });
  });

  it('turns a finding event into a readable alert with the rule the template holds (local EventBridge)', () => {
    // Prepare
    const s = synth({ profile: 'local' });
    const bus = new LocalEventBridge(s.json);
    const summary = {
      batch_id: 'b-1',
      findings: [
        {
          gate: 'energy_below_exact',
          severity: 'error',
          message: '1 run(s) report a minimum energy below the exact (FCI) energy',
          offending: ['e1'],
          offending_total: 1,
        },
      ],
    } as unknown as RunSummary;
    const detail = findingDetail(summary.findings![0], summary, {
      kind: 'features',
      runId: 'nightly-1',
      summaryUri: 's3://features/pipeline-runs/feature_processing/nightly-1.json',
    });
    const busName = environmentOf(s, 'read-summary').EVENT_BUS_NAME;

    // Act
    hostBusBindings(bus).eventBus([findingEntry(detail, busName)]);

    // Assess
    // The template is a JSON string (RuleTargetInput.fromText), as EventBridge receives it.
    expect(bus.deliveries.map((d) => JSON.parse(d.message))).toEqual([
      'Data-quality finding (error) in feature pipeline run nightly-1, features job, gate energy_below_exact: ' +
        '1 run(s) report a minimum energy below the exact (FCI) energy Offending (1): e1. ' +
        'Run summary: s3://features/pipeline-runs/feature_processing/nightly-1.json',
    ]);
  });

  it('alerts on the chosen severities only, and refuses an empty or unknown list by name', () => {
    // Prepare
    const stack = new Stack();
    const bus = new events.EventBus(stack, 'Bus');
    const topic = new sns.Topic(stack, 'Topic');

    // Act
    new QualityFindingsAlert(stack, 'Errors', { eventBus: bus, topic, severities: ['error'] });

    // Assess
    Template.fromStack(stack).hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ detail: { severity: ['error'] } }),
    });
    expect(() => new QualityFindingsAlert(stack, 'None', { eventBus: bus, topic, severities: [] })).toThrow(
      'QualityFindingsAlert: severities must be distinct values of warning, error, at least one, got []',
    );
    expect(
      () => new QualityFindingsAlert(stack, 'Bad', { eventBus: bus, topic, severities: ['info' as never] }),
    ).toThrow('got ["info"]');
  });
});
