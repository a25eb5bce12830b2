/** The daily trigger of the feature pipeline: an EventBridge Scheduler schedule. */
import { TimeZone } from 'aws-cdk-lib';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

export interface PipelineScheduleProps {
  readonly stateMachine: sfn.IStateMachine;
  /** cron(...), rate(...) or at(...). @default 'cron(0 2 * * ? *)' (02:00 daily) */
  readonly expression?: string;
  /** IANA time zone of the expression. @default 'UTC' */
  readonly timezone?: string;
  /** A disabled schedule stays deployed and can be switched on in the console. @default true */
  readonly enabled?: boolean;
}

export class PipelineSchedule extends Construct {
  readonly schedule: scheduler.Schedule;

  constructor(scope: Construct, id: string, props: PipelineScheduleProps) {
    super(scope, id);
    const expression = props.expression ?? 'cron(0 2 * * ? *)';
    if (!/^(cron|rate|at)\(.+\)$/.test(expression)) {
      throw new Error(`PipelineSchedule: expression must be cron(...), rate(...) or at(...), got ${JSON.stringify(expression)}`);
    }
    const zone = TimeZone.of(props.timezone ?? 'UTC');
    this.schedule = new scheduler.Schedule(this, 'Daily', {
      description: 'Starts the feature pipeline (input {"trigger":"schedule"})',
      schedule: scheduler.ScheduleExpression.expression(expression, zone),
      enabled: props.enabled ?? true,
      target: new targets.StepFunctionsStartExecution(props.stateMachine, {
        input: scheduler.ScheduleTargetInput.fromObject({ trigger: 'schedule' }),
        retryAttempts: 2,
      }),
    });
  }
}
