/**
 * cdk-nag AwsSolutions acknowledgements, made by the construct that grants what they excuse,
 * right after the grant. cdk-nag 3 matches an acknowledgement by its exact finding id on the
 * flagged resource or one of its ancestors (there is no `appliesTo` list or regex any more):
 * `AwsSolutions-IAM5[Resource::<BucketsFeatures513FC2E2.Arn>/pipeline-runs/*]` excuses that one
 * resource pattern and nothing else, so a new wildcard anywhere still fails the synth.
 *
 * One finding cannot be scoped by its id: `IAM5[Resource::*]` reads the same whether X-Ray or
 * `iam:CreateAccessKey` is granted on "*". `acknowledgeUnscopedActions` therefore names the
 * actions it excuses and acknowledges the finding only while nothing else in the policy is on "*".
 */
import { Aspects, CfnResource, type IAspect, Stack, Validations } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { IConstruct } from 'constructs';

/** A finding of the AwsSolutions pack as cdk-nag names it, without the `AwsSolutions-` prefix. */
export type AwsSolutionsFinding =
  | 'L1'
  | `IAM4[Policy::${string}]`
  | `IAM5[Action::${string}]`
  | `IAM5[Resource::${string}]`;

/** The finding an action on "*" gives: it says nothing of which action, hence `acknowledgeUnscopedActions`. */
const UNSCOPED_RESOURCE: AwsSolutionsFinding = 'IAM5[Resource::*]';

/** Wildcard action groups of aws-cdk-lib's bucket grants (grantRead, and what grantPut / grantDelete add). */
export const S3_READ_ACTIONS = ['s3:GetObject*', 's3:GetBucket*', 's3:List*'] as const;
export const S3_PUT_ACTIONS = ['s3:Abort*'] as const;
export const S3_DELETE_ACTIONS = ['s3:DeleteObject*'] as const;

/** Acknowledges each of `findings` on `scope` and everything under it, all for `reason`. */
export function acknowledge(scope: IConstruct, findings: readonly AwsSolutionsFinding[], reason: string): void {
  for (const finding of findings) {
    if (finding === UNSCOPED_RESOURCE) {
      // Acknowledged as such it would excuse any action on "*" granted to `scope` later.
      throw new Error(
        `acknowledge: ${finding} on ${scope.node.path} excuses any action on "*"; use acknowledgeUnscopedActions, naming the actions`,
      );
    }
    Validations.of(scope).acknowledge({ id: `AwsSolutions-${finding}`, reason });
  }
}

/** `IAM5[Action::<group>]` of each wildcard action group. */
export function wildcardActions(actions: readonly string[]): AwsSolutionsFinding[] {
  return actions.map((action): AwsSolutionsFinding => `IAM5[Action::${action}]`);
}

/**
 * `IAM5[Resource::<arn>]` of a granted resource pattern, written as cdk-nag writes it: the ARN's
 * tokens resolved in `scope`'s stack, `Fn::GetAtt` as `<LogicalId.Attribute>`, `Ref` as `<Name>`,
 * `Fn::Join` joined, anything else as its JSON. Give the same expression the grant was given.
 */
export function wildcardResource(scope: IConstruct, arn: string): AwsSolutionsFinding {
  return `IAM5[Resource::${flatten(Stack.of(scope).resolve(arn))}]`;
}

function flatten(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value.replace(/\$\{/g, '<').replace(/\}/g, '>');
  const node = value as Record<string, unknown>;
  if (Array.isArray(node['Fn::Join'])) {
    const [separator, parts] = node['Fn::Join'] as [string, unknown[]];
    return parts.map(flatten).join(separator);
  }
  if (Array.isArray(node['Fn::GetAtt'])) {
    const [id, attribute] = node['Fn::GetAtt'] as [unknown, unknown];
    return `<${flatten(id)}.${flatten(attribute)}>`;
  }
  if (node.Ref !== undefined) return `<${flatten(node.Ref)}>`;
  return JSON.stringify(value);
}

/**
 * Acknowledges `IAM5[Resource::*]` on the policies of `role`, for `actions` only: at synth, a
 * policy whose statements on "*" grant exactly these actions (or fewer) is acknowledged; one that
 * grants any other action on "*" is not, and fails the synth. Several calls on one role add up
 * (e.g. X-Ray from the function, SSM status reads from the batch's grants).
 */
export function acknowledgeUnscopedActions(role: iam.IRole, actions: readonly string[], reason: string): void {
  let guard = GUARDS.get(role);
  if (!guard) {
    guard = new UnscopedActionsGuard();
    GUARDS.set(role, guard);
    Aspects.of(role).add(guard);
  }
  for (const action of actions) guard.allow(action, reason);
}

const GUARDS = new WeakMap<IConstruct, UnscopedActionsGuard>();

interface Statement {
  readonly Effect?: string;
  readonly Action?: string | string[];
  readonly Resource?: unknown;
}

class UnscopedActionsGuard implements IAspect {
  /** Each allowed action, with the reason it is allowed for. */
  private readonly allowed = new Map<string, string>();

  allow(action: string, reason: string): void {
    this.allowed.set(action, reason);
  }

  visit(node: IConstruct): void {
    if (!CfnResource.isCfnResource(node) || node.cfnResourceType !== 'AWS::IAM::Policy') return;
    const document = Stack.of(node).resolve((node as iam.CfnPolicy).policyDocument) as { Statement?: Statement[] };
    const onAnything = (document.Statement ?? []).filter(
      (statement) => statement.Effect === 'Allow' && ([] as unknown[]).concat(statement.Resource).includes('*'),
    );
    const actions = onAnything.flatMap((statement) => ([] as string[]).concat(statement.Action ?? []));
    if (actions.length === 0 || !actions.every((action) => this.allowed.has(action))) return;
    const reasons = [...new Set(actions.map((action) => this.allowed.get(action) ?? ''))];
    Validations.of(node).acknowledge({ id: `AwsSolutions-${UNSCOPED_RESOURCE}`, reason: reasons.join('; ') });
  }
}

/** What a state machine with tracing and a log destination may do on "*" (aws-cdk-lib adds it to its role). */
const STATE_MACHINE_DELIVERY_ACTIONS = [
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
  'xray:GetSamplingRules',
  'xray:GetSamplingTargets',
  'logs:CreateLogDelivery',
  'logs:GetLogDelivery',
  'logs:UpdateLogDelivery',
  'logs:DeleteLogDelivery',
  'logs:ListLogDeliveries',
  'logs:PutResourcePolicy',
  'logs:DescribeResourcePolicies',
  'logs:DescribeLogGroups',
] as const;

/**
 * The findings of a traced, logged state machine whose LambdaInvoke tasks call `invoked`: X-Ray and
 * log delivery on "*", and each function with its versions and aliases (`<arn>:*`).
 * @param owner whose functions these are, for the reason ("the pipeline's")
 */
export function acknowledgeStateMachine(
  machine: sfn.StateMachine,
  invoked: readonly lambda.IFunction[],
  owner: string,
): void {
  acknowledgeUnscopedActions(
    machine.role,
    STATE_MACHINE_DELIVERY_ACTIONS,
    'X-Ray tracing and CloudWatch Logs delivery (logs:CreateLogDelivery etc.) support no resource-level permissions',
  );
  acknowledge(
    machine.role,
    invoked.map((fn) => wildcardResource(machine, `${fn.functionArn}:*`)),
    `LambdaInvoke grants the function and its versions/aliases (<arn>:*); only ${owner} own functions`,
  );
}
