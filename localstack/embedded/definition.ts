/**
 * Turns the state machine of a synthesized template into a runnable ASL document.
 *
 * CDK writes `DefinitionString` as an `Fn::Join` of literal pieces and tokens (`Ref`,
 * `Fn::GetAtt`). Locally there is no CloudFormation to resolve them, so every token becomes a
 * well-formed placeholder ARN that names the template resource it stood for; the local runner
 * maps those ARNs back to the in-process handlers.
 */
import type { CfnElement, Stack } from 'aws-cdk-lib';

export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT = '000000000000';

type TemplateValue = string | number | boolean | null | TemplateValue[] | { [key: string]: TemplateValue };

export interface CfnTemplate {
  readonly Resources: Record<string, { Type: string; Properties?: Record<string, TemplateValue> }>;
}

/** A placeholder ARN for a template resource, recognisable by `logicalIdOfPlaceholder`. */
export function placeholderArn(template: CfnTemplate, logicalId: string): string {
  const resource = template.Resources[logicalId];
  if (!resource) throw new Error(`the definition refers to ${logicalId}, which the template does not define`);
  switch (resource.Type) {
    case 'AWS::Lambda::Function':
      return `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${logicalId}`;
    case 'AWS::StepFunctions::StateMachine':
      return `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:${logicalId}`;
    case 'AWS::SNS::Topic':
      return `arn:aws:sns:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${logicalId}`;
    case 'AWS::Events::EventBus':
      return `arn:aws:events:${LOCAL_REGION}:${LOCAL_ACCOUNT}:event-bus/${logicalId}`;
    default:
      return `arn:aws:local:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${logicalId}`;
  }
}

/** What `Ref` returns for a resource: a bucket's name, a function's name, otherwise its ARN. */
export function resolveRef(template: CfnTemplate, logicalId: string): string {
  const resource = template.Resources[logicalId];
  if (resource?.Type === 'AWS::S3::Bucket') {
    const name = resource.Properties?.BucketName;
    return typeof name === 'string' ? name : logicalId.toLowerCase();
  }
  if (resource?.Type === 'AWS::Lambda::Function') return logicalId;
  return placeholderArn(template, logicalId);
}

/** A template value (string or token expression) as the string it stands for locally. */
export function resolveValue(template: CfnTemplate, value: unknown): string {
  return resolveToken(template, value as TemplateValue);
}

/** The logical id a placeholder Lambda ARN stands for (or undefined for anything else). */
export function logicalIdOfLambdaArn(arn: string): string | undefined {
  const match = /^arn:aws:lambda:[^:]+:\d{12}:function:([A-Za-z0-9]+)(?::\$LATEST)?$/.exec(arn);
  return match?.[1];
}

const PSEUDO_PARAMETERS: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::Region': LOCAL_REGION,
  'AWS::AccountId': LOCAL_ACCOUNT,
  'AWS::URLSuffix': 'amazonaws.com',
};

function resolveToken(template: CfnTemplate, value: TemplateValue): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    if ('Ref' in value && typeof value.Ref === 'string') {
      return PSEUDO_PARAMETERS[value.Ref] ?? resolveRef(template, value.Ref);
    }
    const getAtt = value['Fn::GetAtt'];
    if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') {
      const [logicalId, attribute] = getAtt as [string, string];
      if (attribute === 'Arn') return placeholderArn(template, logicalId);
      if (!template.Resources[logicalId])
        throw new Error(`cannot resolve Fn::GetAtt ${logicalId}.${attribute}: no such resource`);
      // Other attributes (ids, names) have no local meaning: a readable stand-in.
      return attribute === 'Name' ? logicalId : `${logicalId}.${attribute}`;
    }
    const join = value['Fn::Join'];
    if (Array.isArray(join) && typeof join[0] === 'string' && Array.isArray(join[1])) {
      return join[1].map((part) => resolveToken(template, part)).join(join[0]);
    }
  }
  throw new Error(`cannot resolve ${JSON.stringify(value).slice(0, 200)} locally`);
}

/** The logical ids of the template's state machines. */
export function stateMachineIds(template: CfnTemplate): string[] {
  return Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === 'AWS::StepFunctions::StateMachine')
    .map(([id]) => id);
}

/** The ASL of one state machine of the template, with every token replaced by a placeholder. */
export function resolveDefinition(template: CfnTemplate, stateMachineLogicalId: string): AslDefinition {
  const resource = template.Resources[stateMachineLogicalId];
  if (resource?.Type !== 'AWS::StepFunctions::StateMachine') {
    throw new Error(`${stateMachineLogicalId} is not a state machine of this template`);
  }
  const definition = resource.Properties?.DefinitionString;
  if (definition === undefined) throw new Error(`${stateMachineLogicalId} has no DefinitionString`);
  return JSON.parse(resolveToken(template, definition)) as AslDefinition;
}

/** The part of ASL the local runner reads (the rest passes through untouched). */
export interface AslState {
  Type: string;
  Resource?: string;
  Parameters?: Record<string, unknown>;
  Branches?: AslDefinition[];
  ItemProcessor?: AslDefinition;
  Iterator?: AslDefinition;
  [key: string]: unknown;
}
export interface AslDefinition {
  StartAt: string;
  States: Record<string, AslState>;
  [key: string]: unknown;
}

/** Every state of a definition, nested branches included, as [name, state] pairs. */
export function allStates(definition: AslDefinition): Array<[string, AslState]> {
  return Object.entries(definition.States).flatMap(([name, state]) => {
    const nested = [...(state.Branches ?? []), state.ItemProcessor, state.Iterator].filter(
      (child): child is AslDefinition => child !== undefined,
    );
    return [[name, state] as [string, AslState], ...nested.flatMap(allStates)];
  });
}

/** The logical id of a construct's CloudFormation resource in its stack. */
export function logicalIdOf(stack: Stack, construct: { node: { defaultChild?: unknown } }): string {
  return stack.getLogicalId(construct.node.defaultChild as CfnElement);
}

/** A function's environment, as the template sets it, with its tokens resolved locally. */
export function functionEnvironment(template: CfnTemplate, id: string): Record<string, string> {
  const variables =
    (template.Resources[id]?.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)
      ?.Variables ?? {};
  return Object.fromEntries(Object.entries(variables).map(([key, value]) => [key, resolveValue(template, value)]));
}
