/** What the stack connects between constructs: settings from the config reach the functions, alarms reach the topic. */
import { describe, expect, it } from 'vitest';
import { JOB_ATTEMPTS_FAILED_METRIC } from '../../infra/feature-pipeline/feature-pipeline';
import { resolveValue } from '../../localstack/embedded/definition';
import { synth } from './support';

describe('the stack wiring', () => {
  it('sends the failed-job-attempt alarm to the alert topic', () => {
    // Prepare + Act
    const s = synth();
    const alarmId = s.stack.getLogicalId(s.stack.pipeline.failedJobAttemptsAlarm.node.defaultChild as never);
    const topicId = s.stack.getLogicalId(s.stack.alerts.topic.node.defaultChild as never);

    // Assess
    const alarm = s.json.Resources[alarmId].Properties as Record<string, unknown>;
    expect(alarm.MetricName).toBe(JOB_ATTEMPTS_FAILED_METRIC);
    expect(alarm.AlarmActions).toEqual([{ Ref: topicId }]);
  });

  it('passes the R2 delete limits of the config to the sync functions', () => {
    // Prepare + Act
    const s = synth({ profile: 'local', r2: { maxDeleteFraction: 0.2, maxDeleteCount: 50 } });
    const id = s.stack.getLogicalId(s.stack.r2Sync!.syncTable.node.defaultChild as never);
    const environment = s.json.Resources[id].Properties?.Environment as { Variables: Record<string, unknown> };
    const variables = environment.Variables;

    // Assess
    expect(JSON.parse(resolveValue(s.json, variables.SYNC_SETTINGS))).toMatchObject({
      maxDeleteFraction: 0.2,
      maxDeleteCount: 50,
    });
  });
});
