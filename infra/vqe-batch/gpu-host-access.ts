/**
 * The GPU host as the batch's functions reach it: the SSM Command documents the stack deploys
 * (run/stop a simulation container; build the image), and the right to send those documents, and
 * nothing else, to the configured host. The image repository, the docker run options and the build
 * folder are fixed in the documents at synth; an invoker only fills the documents' pattern-checked
 * parameters.
 */
import { CfnOutput, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import {
  buildDocumentContent,
  type ContainerSecrets,
  isSecretArn,
  runDocumentContent,
  type SsmLauncherSpec,
} from '../../lambdas/vqe-batch/contract';
import {
  acknowledge,
  acknowledgeUnscopedActions,
  S3_PUT_ACTIONS,
  wildcardActions,
  wildcardResource,
} from '../common/nag';
import { roleOf } from '../common/pipeline-function';

export interface GpuHostAccessProps {
  /** The host: an EC2 instance or managed node by id, or every managed node carrying a tag. */
  readonly target: SsmLauncherSpec['target'];
  /** The simulation image; the documents accept its repository only. */
  readonly image: string;
  /** `docker run` options fixed in the run document (checked against the allowlist). @default none */
  readonly dockerRunOptions?: readonly string[];
  /** The image build on the host. @default no build document */
  readonly build?: SsmLauncherSpec['build'];
  /**
   * Container environment variables read on the host right before `docker run`, from Secrets
   * Manager (SecretString) or SecureString parameters of the stack's region (a secret given by
   * its complete ARN: the ARN's region). Only the names reach the template. @default none
   */
  readonly containerSecrets?: ContainerSecrets;
  /**
   * The GPU host's role (its instance profile's, or the hybrid activation's), granted read of the
   * container secrets and the upload of the runs' records. @default no grant: the
   * `HostSecretsPolicy` and `HostRecordsPolicy` outputs hold the policies to attach
   */
  readonly hostRole?: iam.IRole;
  /**
   * Delivery host-upload: the run document mounts a run folder below `hostDir` and uploads it
   * to `bucket` below `prefix` with the host's role, which may put objects there and nowhere
   * else of the bucket. @default none: the container delivers its records itself
   */
  readonly hostUpload?: { readonly bucket: s3.IBucket; readonly prefix: string; readonly hostDir: string };
}

/** What a function may do on the host besides SendCommand of its document. */
interface SenderRights {
  /** Command status reads and cancels (no resource-level scope in IAM). */
  readonly statusActions: readonly string[];
  /** Looks a tagged host up (DescribeInstanceInformation) before sending. */
  readonly resolvesHost: boolean;
}

export class GpuHostAccess extends Construct {
  /** Runs (action=run) or removes (action=stop) one simulation container. */
  readonly runDocument: ssm.CfnDocument;
  /** Builds the image on the host; only when a build is configured. */
  readonly buildDocument?: ssm.CfnDocument;
  private readonly target: SsmLauncherSpec['target'];

  constructor(scope: Construct, id: string, props: GpuHostAccessProps) {
    super(scope, id);
    this.target = props.target;
    this.runDocument = new ssm.CfnDocument(this, 'RunDocument', {
      documentType: 'Command',
      documentFormat: 'JSON',
      content: runDocumentContent({
        image: props.image,
        dockerRunOptions: props.dockerRunOptions ?? [],
        ...(props.containerSecrets && Object.keys(props.containerSecrets).length > 0
          ? { containerSecrets: props.containerSecrets, region: Stack.of(this).region }
          : {}),
        ...(props.hostUpload
          ? {
              hostUpload: {
                bucket: props.hostUpload.bucket.bucketName,
                prefix: props.hostUpload.prefix,
                hostDir: props.hostUpload.hostDir,
                region: Stack.of(this).region,
              },
            }
          : {}),
      }),
    });
    if (props.build) {
      this.buildDocument = new ssm.CfnDocument(this, 'BuildDocument', {
        documentType: 'Command',
        documentFormat: 'JSON',
        content: buildDocumentContent({ image: props.image, ...props.build }),
      });
    }
    this.grantSecretsToHost(props.containerSecrets ?? {}, props.hostRole);
    if (props.hostUpload) this.grantRecordsUploadToHost(props.hostUpload, props.hostRole);
  }

  /**
   * s3:PutObject (grantPut) below the records prefix only, for the run document's upload: to
   * the host's role when it is given, else written out as the policy its role needs (the
   * `HostRecordsPolicy` output).
   */
  private grantRecordsUploadToHost(
    upload: NonNullable<GpuHostAccessProps['hostUpload']>,
    hostRole: iam.IRole | undefined,
  ): void {
    const grantee = hostRole ?? new PolicyCollector(Stack.of(this).account);
    const objects = `${upload.prefix}*`;
    upload.bucket.grantPut(grantee, objects);
    if (hostRole) {
      acknowledge(
        hostRole,
        wildcardActions(S3_PUT_ACTIONS),
        'grantPut action group of CDK, limited to the records prefix',
      );
      acknowledge(
        hostRole,
        [wildcardResource(this, upload.bucket.arnForObjects(objects))],
        "the runs' records: one folder per run and attempt below the records prefix, named by the run",
      );
    }
    if (grantee instanceof PolicyCollector) {
      new CfnOutput(this, 'HostRecordsPolicy', {
        description:
          "The IAM policy the GPU host's role needs to upload the runs' records (set batch.hostRoleArn to have the stack attach it)",
        value: Stack.of(this).toJsonString(grantee.document),
      });
    }
  }

  /**
   * Read of each container secret for the host: granted to its role when it is given, else
   * written out as the policy document its role needs (the `HostSecretsPolicy` output).
   */
  private grantSecretsToHost(secrets: ContainerSecrets, hostRole: iam.IRole | undefined): void {
    const entries = Object.entries(secrets);
    if (entries.length === 0) return;
    const grantee = hostRole ?? new PolicyCollector(Stack.of(this).account);
    for (const [name, source] of entries) {
      if ('secretsManager' in source) {
        const id = source.secretsManager;
        const secret = isSecretArn(id)
          ? secretsmanager.Secret.fromSecretCompleteArn(this, `Secret${name}`, id)
          : secretsmanager.Secret.fromSecretNameV2(this, `Secret${name}`, id);
        secret.grantRead(grantee);
      } else {
        ssm.StringParameter.fromSecureStringParameterAttributes(this, `Parameter${name}`, {
          parameterName: source.ssmParameter,
        }).grantRead(grantee);
      }
    }
    if (grantee instanceof PolicyCollector) {
      new CfnOutput(this, 'HostSecretsPolicy', {
        description:
          "The IAM policy the GPU host's role needs to read the batch's container secrets (set batch.hostRoleArn to have the stack attach it)",
        value: Stack.of(this).toJsonString(grantee.document),
      });
    }
  }

  /** Launching runs: SendCommand of the run document to the host; a tagged host is looked up first. */
  grantLaunch(fn: lambda.IFunction): void {
    this.grantSend(fn, this.runDocument, { statusActions: [], resolvesHost: true });
  }

  /** Polling and stopping a run: its invocation's status, CancelCommand, and the run document's stop action (the handle names the host). */
  grantCheck(fn: lambda.IFunction): void {
    this.grantSend(fn, this.runDocument, {
      statusActions: ['ssm:GetCommandInvocation', 'ssm:CancelCommand'],
      resolvesHost: false,
    });
  }

  /** Starting and polling the image build; nothing without a build document. */
  grantBuild(fn: lambda.IFunction): void {
    if (!this.buildDocument) return;
    this.grantSend(fn, this.buildDocument, { statusActions: ['ssm:GetCommandInvocation'], resolvesHost: true });
  }

  /**
   * SendCommand on one of the stack's own documents and the GPU host only (never
   * AWS-RunShellScript); status reads and cancels have no resource-level scope.
   */
  private grantSend(fn: lambda.IFunction, document: ssm.CfnDocument, rights: SenderRights): void {
    const stack = Stack.of(this);
    const documentArn = stack.formatArn({ service: 'ssm', resource: 'document', resourceName: document.ref });
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:SendCommand'], resources: [documentArn] }));
    const unscoped = [...rights.statusActions];
    if ('instanceId' in this.target) {
      const { instanceId } = this.target;
      const host = instanceId.startsWith('mi-')
        ? stack.formatArn({ service: 'ssm', resource: 'managed-instance', resourceName: instanceId })
        : stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: instanceId });
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:SendCommand'], resources: [host] }));
    } else {
      // Any instance or managed node of the account and region with this tag may receive the
      // commands: whoever may set the tag chooses the hosts (docs/operations.md, security).
      const { key, value } = this.target.tag;
      const hosts = [
        stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' }),
        stack.formatArn({ service: 'ssm', resource: 'managed-instance', resourceName: '*' }),
      ];
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['ssm:SendCommand'],
          resources: hosts,
          conditions: { StringEquals: { [`ssm:resourceTag/${key}`]: value } },
        }),
      );
      acknowledge(
        roleOf(fn),
        hosts.map((host) => wildcardResource(this, host)),
        `SendCommand to the GPU hosts tagged ${key}=${value} only (ssm:resourceTag condition)`,
      );
      if (rights.resolvesHost) {
        fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:DescribeInstanceInformation'], resources: ['*'] }));
        unscoped.push('ssm:DescribeInstanceInformation');
      }
    }
    if (rights.statusActions.length > 0) {
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: [...rights.statusActions], resources: ['*'] }));
    }
    if (unscoped.length > 0) {
      acknowledgeUnscopedActions(
        roleOf(fn),
        unscoped,
        'SSM GetCommandInvocation, CancelCommand and DescribeInstanceInformation have no resource-level scope',
      );
    }
  }
}

/**
 * A grantee that only collects what it is granted: the policy a role outside the stack needs,
 * from the same grant methods that would attach it to a role of the stack.
 */
class PolicyCollector implements iam.IPrincipal {
  readonly document = new iam.PolicyDocument();
  readonly assumeRoleAction = 'sts:AssumeRole';
  /**
   * The stack's account: a grant on a resource of the stack (a bucket) then stays in this
   * document, instead of going to the resource's policy as a grant to an unknown account would.
   */
  constructor(readonly principalAccount: string) {}
  readonly policyFragment = new iam.ArnPrincipal('*').policyFragment;
  get grantPrincipal(): iam.IPrincipal {
    return this;
  }
  addToPrincipalPolicy(statement: iam.PolicyStatement): iam.AddToPrincipalPolicyResult {
    this.document.addStatements(statement);
    return { statementAdded: true, policyDependable: this.document };
  }
  addToPolicy(statement: iam.PolicyStatement): boolean {
    return this.addToPrincipalPolicy(statement).statementAdded;
  }
}
