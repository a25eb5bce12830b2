import { describe, expect, it } from 'vitest';
import {
  allStates,
  type CfnTemplate,
  logicalIdOfLambdaArn,
  placeholderArn,
  resolveDefinition,
  stateMachineIds,
} from '../../localstack/embedded/definition';

function templateWith(definitionString: unknown): CfnTemplate {
  return {
    Resources: {
      SubmitFn: { Type: 'AWS::Lambda::Function', Properties: {} },
      Machine: {
        Type: 'AWS::StepFunctions::StateMachine',
        Properties: { DefinitionString: definitionString as never },
      },
      Topic: { Type: 'AWS::SNS::Topic', Properties: {} },
    },
  };
}

describe('resolveDefinition', () => {
  it('replaces Ref, Fn::GetAtt and pseudo parameters with placeholders the runner can map back', () => {
    // Prepare: the shape CDK synthesizes for a LambdaInvoke task
    const template = templateWith({
      'Fn::Join': [
        '',
        [
          '{"StartAt":"Submit","States":{"Submit":{"Type":"Task","Resource":"arn:',
          { Ref: 'AWS::Partition' },
          ':states:::lambda:invoke","Parameters":{"FunctionName":"',
          { 'Fn::GetAtt': ['SubmitFn', 'Arn'] },
          '","Payload.$":"$"},"End":true}}}',
        ],
      ],
    });

    // Act
    const definition = resolveDefinition(template, 'Machine');

    // Assess
    const submit = definition.States.Submit;
    expect(submit.Resource).toBe('arn:aws:states:::lambda:invoke');
    const functionArn = (submit.Parameters as { FunctionName: string }).FunctionName;
    expect(logicalIdOfLambdaArn(functionArn)).toBe('SubmitFn');
  });

  it('refuses a token it cannot resolve, naming it', () => {
    const template = templateWith({ 'Fn::Join': ['', ['{"StartAt":"', { 'Fn::ImportValue': 'x' }, '"}']] });

    expect(() => resolveDefinition(template, 'Machine')).toThrow(/Fn::ImportValue/);
  });

  it('refuses a reference to a resource the template lacks', () => {
    const template = templateWith({ 'Fn::Join': ['', ['"', { 'Fn::GetAtt': ['Missing', 'Arn'] }, '"']] });

    expect(() => resolveDefinition(template, 'Machine')).toThrow(/Missing/);
  });

  it('refuses an id that is not a state machine', () => {
    expect(() => resolveDefinition(templateWith('{}'), 'SubmitFn')).toThrow(/not a state machine/);
  });

  it('gives each resource type an ARN of its service', () => {
    const template = templateWith('{}');

    expect(placeholderArn(template, 'Topic')).toMatch(/^arn:aws:sns:[^:]+:\d{12}:Topic$/);
    expect(placeholderArn(template, 'Machine')).toMatch(/:stateMachine:Machine$/);
    expect(stateMachineIds(template)).toEqual(['Machine']);
    expect(logicalIdOfLambdaArn(placeholderArn(template, 'Topic'))).toBeUndefined();
  });
});

describe('allStates', () => {
  it('walks into Parallel branches', () => {
    const states = allStates({
      StartAt: 'P',
      States: {
        P: {
          Type: 'Parallel',
          Branches: [{ StartAt: 'Inner', States: { Inner: { Type: 'Pass', End: true } } }],
          End: true,
        },
      },
    });

    expect(states.map(([name]) => name)).toEqual(['P', 'Inner']);
  });
});
