/**
 * The pipeline's own event bus. "ML Features Updated", "VQE Batch Finished" and "R2 Sync
 * Completed" start other state machines; on the default bus anyone with `events:PutEvents` could
 * forge them. On this bus a resource policy denies PutEvents to every principal but the
 * producers named with `addProducer` (the state machine roles whose PutEvents tasks publish).
 */
import { Lazy, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

export interface PipelineEventBusProps {
  /** @default a name generated from the construct path */
  readonly eventBusName?: string;
}

export class PipelineEventBus extends Construct {
  readonly bus: events.EventBus;
  private readonly producers: iam.IRole[] = [];

  constructor(scope: Construct, id: string, props: PipelineEventBusProps = {}) {
    super(scope, id);
    PipelineEventBus.validateProps(props);
    this.bus = new events.EventBus(this, 'Bus', {
      eventBusName: props.eventBusName,
      description: "The quantum pipeline's own events; only its state machines may put events here",
    });
    // A Deny, not an Allow: same-account principals with events:PutEvents on "*" need no
    // resource policy to put events, so only an explicit Deny keeps them out.
    this.bus.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'OnlyPipelineProducers',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['events:PutEvents'],
        resources: [this.bus.eventBusArn],
        conditions: {
          ArnNotEquals: {
            'aws:PrincipalArn': Lazy.list({ produce: () => this.producers.map((role) => role.roleArn) }),
          },
        },
      }),
    );
    this.node.addValidation({
      validate: () =>
        this.producers.length === 0
          ? ['PipelineEventBus: no producer was added (addProducer); the policy would deny every PutEvents']
          : [],
    });
  }

  /** Checks the props, naming the prop and the value, before anything is built. */
  private static validateProps(props: PipelineEventBusProps): void {
    const name = props.eventBusName;
    if (name !== undefined && (name === 'default' || !/^[.\-_A-Za-z0-9]{1,256}$/.test(name))) {
      throw new Error(
        `PipelineEventBus: eventBusName must be 1-256 letters, digits, . - or _ and not "default", got ${JSON.stringify(name)}`,
      );
    }
  }

  /** Exempts `role` from the bus policy's Deny; its PutEvents grant comes with the task that publishes. */
  addProducer(role: iam.IRole): void {
    if (Stack.of(role) !== Stack.of(this)) {
      throw new Error(`PipelineEventBus: producer ${role.node.path} must be in the bus's stack`);
    }
    if (!this.producers.includes(role)) this.producers.push(role);
  }
}
