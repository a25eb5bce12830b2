/**
 * The CloudWatch dashboard (infra/platform/dashboard.ts): it exists, its body graphs every metric
 * the steps publish under the names the emitter writes, shows the alarms, and refuses bad props
 * naming the prop and the value. Each test synthesizes a fresh stack.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { describe, expect, it } from 'vitest';
import { STACK_NAME_VARIABLE } from '../../infra/common/pipeline-function';
import { PIPELINE_METRICS, PipelineDashboard } from '../../infra/platform/dashboard';
import { METRIC_DIMENSIONS, METRIC_JOBS, METRIC_NAMESPACE, METRICS, STACK_NAME_ENV } from '../../lambdas/core/metrics';
import { synth } from './support';

/** The dashboard body with its tokens as CloudFormation writes them (a Fn::Join), as one string. */
function bodyOf(s: ReturnType<typeof synth>): string {
  const dashboards = Object.values(s.template.findResources('AWS::CloudWatch::Dashboard'));
  expect(dashboards).toHaveLength(1);
  return JSON.stringify(dashboards[0].Properties.DashboardBody);
}

function machine(stack: Stack): sfn.StateMachine {
  return new sfn.StateMachine(stack, 'M', {
    definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'P')),
  });
}

describe('the dashboard', () => {
  it('uses the names the Lambda emitter writes: namespace, dimensions, jobs, metrics, the stack variable', () => {
    // Prepare + Act
    const emitted = Object.fromEntries(Object.entries(METRICS).map(([key, metric]) => [key, metric.name]));

    // Assess
    expect(PIPELINE_METRICS.namespace).toBe(METRIC_NAMESPACE);
    expect(PIPELINE_METRICS.dimensions).toEqual(METRIC_DIMENSIONS);
    expect(PIPELINE_METRICS.jobs).toEqual(METRIC_JOBS);
    expect(PIPELINE_METRICS.names).toEqual(emitted);
    expect(STACK_NAME_VARIABLE).toBe(STACK_NAME_ENV);
  });

  it('is one AWS::CloudWatch::Dashboard named after the stack, whose body graphs every metric in the local profile', () => {
    // Prepare + Act
    const s = synth({ profile: 'local', stackName: 'qp-dash' });

    // Assess
    s.template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'qp-dash-pipeline' });
    const body = bodyOf(s);
    // Every metric by name; NewRows inside the search expression (its tables are not known at synth).
    for (const name of Object.values(PIPELINE_METRICS.names)) expect(body).toMatch(new RegExp(`\\b${name}\\b`));
    expect(body).toContain(String.raw`MetricName=\\\"NewRows\\\"`);
    expect(body).toContain('\\"QuantumPipeline\\"');
    for (const name of ['ExecutionsSucceeded', 'ExecutionsFailed', 'ExecutionsTimedOut']) expect(body).toContain(name);
    // Per lane and per synced table, with the stack as the Stack dimension.
    for (const lane of ['gpu1', 'gpu2', 'cpu']) expect(body).toContain(`\\"Lane\\",\\"${lane}\\"`);
    for (const table of ['ml_iteration_features', 'ml_run_summary'])
      expect(body).toContain(`\\"Table\\",\\"${table}\\"`);
    expect(body).toContain('\\"Stack\\",\\"qp-dash\\"');
    expect(body).toContain('SEARCH(');
  });

  it('shows every alarm that notifies the alert topic in its alarm status widget, the job SLA alarms among them', () => {
    // Prepare + Act
    const s = synth({ profile: 'local' });

    // Assess
    const body = bodyOf(s);
    expect(body).toContain('\\"type\\":\\"alarm\\"');
    const alarmIds = Object.keys(s.template.findResources('AWS::CloudWatch::Alarm'));
    expect(s.stack.alerts.alarms.length).toBeGreaterThanOrEqual(5);
    for (const alarm of s.stack.alerts.alarms) {
      const id = s.stack.getLogicalId(alarm.node.defaultChild as never);
      expect(alarmIds).toContain(id);
      expect(body).toContain(`"${id}","Arn"`);
    }
    expect(alarmIds.some((id) => id.startsWith('AlertsFeaturesJobOverSla'))).toBe(true);
    expect(alarmIds.some((id) => id.startsWith('AlertsMlFeaturesJobOverSla'))).toBe(true);
  });

  it('leaves out the batch and R2 widgets on aws until those parts are configured', () => {
    // Prepare + Act
    const s = synth({ profile: 'aws' });

    // Assess
    const body = bodyOf(s);
    expect(body).toContain('DurationSeconds');
    expect(body).not.toContain('RunsDone');
    expect(body).not.toContain('BytesCopied');
  });

  it('adds alarms given later to its status widget', () => {
    // Prepare
    const stack = new Stack(undefined, 'Alone');
    const dashboard = new PipelineDashboard(stack, 'D', { featurePipeline: machine(stack) });
    const alarm = new cloudwatch.Alarm(stack, 'Late', {
      metric: new cloudwatch.Metric({ namespace: 'QuantumPipeline', metricName: 'FilesQuarantined' }),
      threshold: 0,
      evaluationPeriods: 1,
    });

    // Act
    dashboard.addAlarms(alarm);

    // Assess
    const [resource] = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Dashboard'));
    const body = JSON.stringify(resource.Properties.DashboardBody);
    expect(body).toContain(`"${stack.getLogicalId(alarm.node.defaultChild as never)}","Arn"`);
  });

  it.each([
    [
      { dashboardName: 'my dashboard' },
      'PipelineDashboard: dashboardName must be 1-255 letters, digits, - or _, got "my dashboard"',
    ],
    [{ period: Duration.seconds(90) }, 'PipelineDashboard: period must be whole minutes, got 1 minute 30 seconds'],
    [{ batchLanes: ['cpu', ''] }, 'PipelineDashboard: batchLanes must be CloudWatch dimension values, got ""'],
    [{ r2Tables: ['ml run'] }, 'PipelineDashboard: r2Tables must be CloudWatch dimension values, got "ml run"'],
  ])('refuses %j, naming the prop and the value', (props, message) => {
    // Prepare
    const stack = new Stack();

    // Act + Assess
    expect(() => new PipelineDashboard(stack, 'D', { featurePipeline: machine(stack), ...props })).toThrow(message);
  });

  it('refuses more than 100 alarms, naming the count', () => {
    // Prepare
    const stack = new Stack();
    const metric = new cloudwatch.Metric({ namespace: 'QuantumPipeline', metricName: 'X' });
    const alarms = Array.from(
      { length: 101 },
      (_, i) => new cloudwatch.Alarm(stack, `A${i}`, { metric, threshold: 1, evaluationPeriods: 1 }),
    );

    const featurePipeline = machine(stack);

    // Act + Assess
    expect(() => new PipelineDashboard(stack, 'D', { featurePipeline, alarms })).toThrow(
      'PipelineDashboard: alarms must be at most 100, got 101',
    );
    const dashboard = new PipelineDashboard(stack, 'D2', { featurePipeline, alarms: alarms.slice(0, 100) });
    expect(() => dashboard.addAlarms(alarms[100])).toThrow(
      'PipelineDashboard: an alarm status widget shows at most 100 alarms, got 101',
    );
  });
});
