/**
 * Which LocalStack services (the names of its SERVICES setting) a synthesized template needs, and
 * why: every resource type (CloudFormation creates it through that service), every action the
 * template's IAM identity policies grant (what its Lambdas, state machines and schedules call at
 * run time), SSM-typed parameters (the CDK bootstrap version), and CloudFormation itself.
 */
import type { CfnTemplate } from '../../localstack/embedded/definition';

/** Resource type prefix -> LocalStack service. */
const SERVICE_OF_RESOURCE: Readonly<Record<string, string>> = {
  'AWS::CloudWatch': 'cloudwatch',
  'AWS::DynamoDB': 'dynamodb',
  'AWS::ECR': 'ecr',
  'AWS::EMRServerless': 'emr-serverless',
  'AWS::Events': 'events',
  'AWS::Glue': 'glue',
  'AWS::IAM': 'iam',
  'AWS::KMS': 'kms',
  'AWS::Lambda': 'lambda',
  'AWS::Logs': 'logs',
  'AWS::Pipes': 'pipes',
  'AWS::S3': 's3',
  'AWS::Scheduler': 'scheduler',
  'AWS::SecretsManager': 'secretsmanager',
  'AWS::SNS': 'sns',
  'AWS::SQS': 'sqs',
  'AWS::SSM': 'ssm',
  'AWS::StepFunctions': 'stepfunctions',
};

/** IAM action prefix -> LocalStack service; null: granted, but nothing to emulate (the reason). */
const SERVICE_OF_ACTION: Readonly<Record<string, string | { readonly none: string }>> = {
  cloudwatch: 'cloudwatch',
  dynamodb: 'dynamodb',
  ecr: 'ecr',
  'emr-serverless': 'emr-serverless',
  events: 'events',
  glue: 'glue',
  iam: 'iam',
  kms: 'kms',
  lambda: 'lambda',
  logs: 'logs',
  s3: 's3',
  scheduler: 'scheduler',
  secretsmanager: 'secretsmanager',
  sns: 'sns',
  sqs: 'sqs',
  ssm: 'ssm',
  states: 'stepfunctions',
  sts: 'sts',
  // Active tracing grants these; no project code calls X-Ray, and LocalStack's Lambda sends no segments.
  xray: { none: 'X-Ray writes of active Lambda tracing' },
};

/**
 * Services the Community image (the compose default, localstack/localstack:4.14.0) does not
 * emulate: LocalStack sells them in paid plans (EMR Serverless from the Ultimate plan, per its
 * API coverage pages). A template that needs one cannot run on the LocalStack profile.
 */
export const NOT_IN_COMMUNITY: Readonly<Record<string, string>> = {
  'emr-serverless': 'EMR Serverless (paid LocalStack plans only)',
  glue: 'Glue (paid LocalStack plans only)',
  ecr: 'ECR (paid LocalStack plans only)',
};

/** service -> what needs it, e.g. `AWS::KMS::Key AlertsTopicKey...` or `action secretsmanager:GetSecretValue`. */
export type Needs = ReadonlyMap<string, readonly string[]>;

export interface ServiceNeeds {
  readonly needs: Needs;
  /** Resource types and action prefixes this module has no LocalStack service for. */
  readonly unknown: readonly string[];
}

const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : value === undefined ? [] : [value]);

/** The Action strings of a policy document's statements. */
function actionsOf(document: unknown): string[] {
  const statements = asArray((document as { Statement?: unknown } | undefined)?.Statement);
  return statements.flatMap((statement) =>
    asArray((statement as { Action?: unknown }).Action).filter((a): a is string => typeof a === 'string'),
  );
}

/** The identity-policy documents of an IAM resource (resource policies list what others may do). */
function identityDocuments(type: string, properties: Record<string, unknown>): unknown[] {
  if (type === 'AWS::IAM::Policy' || type === 'AWS::IAM::ManagedPolicy') return [properties.PolicyDocument];
  if (type === 'AWS::IAM::Role') {
    const inline = asArray(properties.Policies).map((p) => (p as { PolicyDocument?: unknown }).PolicyDocument);
    return [properties.AssumeRolePolicyDocument, ...inline];
  }
  return [];
}

/** A synthesized template; Parameters holds the bootstrap version parameter of the default synthesizer. */
export type SynthesizedTemplate = CfnTemplate & { readonly Parameters?: Record<string, { readonly Type?: string }> };

export function servicesNeededBy(template: SynthesizedTemplate): ServiceNeeds {
  const needs = new Map<string, Set<string>>();
  const unknown = new Set<string>();
  const need = (service: string, reason: string) => needs.set(service, (needs.get(service) ?? new Set()).add(reason));

  need('cloudformation', 'cdklocal deploys the template as a CloudFormation stack');
  for (const [name, parameter] of Object.entries(template.Parameters ?? {})) {
    const type = parameter.Type ?? '';
    if (type.startsWith('AWS::SSM::Parameter::')) need('ssm', `parameter ${name} (${type})`);
  }
  for (const [id, resource] of Object.entries(template.Resources)) {
    const { Type: type } = resource;
    if (type.startsWith('Custom::') || type === 'AWS::CloudFormation::CustomResource') {
      need('lambda', `${type} ${id} (a Lambda-backed custom resource)`);
    } else {
      const service = SERVICE_OF_RESOURCE[type.split('::').slice(0, 2).join('::')];
      if (service) need(service, `${type} ${id}`);
      else unknown.add(type);
    }
    for (const document of identityDocuments(type, (resource.Properties ?? {}) as Record<string, unknown>)) {
      for (const action of actionsOf(document)) {
        const service = SERVICE_OF_ACTION[action.split(':')[0]];
        if (service === undefined) unknown.add(`action ${action}`);
        else if (typeof service === 'string') need(service, `action ${action}`);
      }
    }
  }
  return {
    needs: new Map([...needs].map(([service, reasons]) => [service, [...reasons].sort()])),
    unknown: [...unknown].sort(),
  };
}

/** One line per needed service missing from `enabled`, naming what needs it. */
export function missingServices(needs: Needs, enabled: readonly string[]): string[] {
  return [...needs]
    .filter(([service]) => !enabled.includes(service))
    .map(([service, reasons]) => {
      const shown = reasons.slice(0, 3).join('; ') + (reasons.length > 3 ? `; and ${reasons.length - 3} more` : '');
      return `SERVICES lacks "${service}", needed by ${shown}`;
    });
}

/**
 * First LocalStack release certainly able to run each Lambda runtime, from the pull request that
 * added it and the release dates (LocalStack's changelog): nodejs22.x #11929 (merged 2024-11-26,
 * after 4.0.0), python3.13 #11865 (2024-11-19), python3.14 #13348 (2025-11-06, before 4.11.0),
 * nodejs24.x #13410 (2025-11-24, two days before 4.11.0, so possibly in it; 4.12.0 surely).
 */
export const FIRST_LOCALSTACK_WITH_RUNTIME: Readonly<Record<string, string>> = {
  'nodejs22.x': '4.1.0',
  'nodejs24.x': '4.12.0',
  'python3.13': '4.1.0',
  'python3.14': '4.11.0',
};

/** Compares dotted version numbers: negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
