/**
 * Athena over the feature tables (aws profile): a workgroup of its own and saved queries
 * (AWS::Athena::NamedQuery) that read the Iceberg tables the jobs keep in the Glue database. The
 * tables need no DDL: Iceberg's Glue catalog registers them as Iceberg tables, which Athena engine
 * version 3 reads in place, time travel included.
 */
import { Stack, Token } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export interface FeatureQueriesProps {
  /** The Glue database (= Iceberg namespace) holding the tables. */
  readonly database: string;
  /** The warehouse bucket the tables' files are in (read by whoever is granted queries). */
  readonly features: s3.IBucket;
  /** Where query results go. */
  readonly results: s3.IBucket;
  /** Key prefix of the results in `results`, ending in `/`. @default 'athena-results/' */
  readonly resultsPrefix?: string;
  /** @default `<stack name>-features` */
  readonly workGroupName?: string;
  /** A query that would scan more is cancelled: a bound on the cost of one query. @default 10 GiB */
  readonly bytesScannedCutoffPerQuery?: number;
}

/** A saved query: its name in the console, what it answers, and its SQL over `database`. */
interface SavedQuery {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly sql: (database: string) => string;
}

const GIB = 1024 ** 3;
/** Athena's bounds on a workgroup's per-query cutoff (10 MB at least). */
const MIN_CUTOFF = 10_000_000;

const SAVED_QUERIES: readonly SavedQuery[] = [
  {
    id: 'RunsByOptimizer',
    name: 'ml_run_summary: runs, iterations and final energy by basis set and optimizer',
    description: 'How many runs each basis set and optimizer has, their mean iterations and final energy',
    sql: (db) =>
      'SELECT basis_set, optimizer, count(*) AS runs, avg(total_iterations) AS mean_iterations,\n' +
      '       avg(final_energy) AS mean_final_energy, avg(time_per_iteration) AS mean_seconds_per_iteration\n' +
      `FROM "${db}"."ml_run_summary"\n` +
      'GROUP BY basis_set, optimizer\nORDER BY basis_set, mean_iterations',
  },
  {
    id: 'ConvergenceCurve',
    name: 'ml_iteration_features: the energy curve of one experiment',
    description: 'Energy per iteration of one experiment (replace the experiment id)',
    sql: (db) =>
      'SELECT iteration_step, energy, energy_std\n' +
      `FROM "${db}"."ml_iteration_features"\n` +
      "WHERE experiment_id = '<experiment id>'\nORDER BY iteration_step",
  },
  {
    id: 'SummaryHistory',
    name: 'ml_run_summary: snapshot history',
    description: 'The snapshots of the table, for time travel by snapshot id',
    sql: (db) => `SELECT * FROM "${db}"."ml_run_summary$history" ORDER BY made_current_at DESC`,
  },
  {
    id: 'IterationsYesterday',
    name: 'ml_iteration_features: rows per molecule a day ago (time travel)',
    description: 'The table as it was 24 hours ago, by timestamp; FOR VERSION AS OF <snapshot id> works too',
    sql: (db) =>
      'SELECT molecule_name, basis_set, count(*) AS iterations\n' +
      `FROM "${db}"."ml_iteration_features" FOR TIMESTAMP AS OF (current_timestamp - INTERVAL '1' DAY)\n` +
      'GROUP BY molecule_name, basis_set\nORDER BY molecule_name, basis_set',
  },
];

export class FeatureQueries extends Construct {
  readonly workGroup: athena.CfnWorkGroup;
  readonly workGroupName: string;
  readonly namedQueries: readonly athena.CfnNamedQuery[];
  private readonly props: FeatureQueriesProps;
  private readonly resultsPrefix: string;

  constructor(scope: Construct, id: string, props: FeatureQueriesProps) {
    super(scope, id);
    FeatureQueries.validateProps(props);
    this.props = props;
    this.resultsPrefix = props.resultsPrefix ?? 'athena-results/';
    this.workGroupName = props.workGroupName ?? `${Stack.of(this).stackName}-features`;

    this.workGroup = new athena.CfnWorkGroup(this, 'WorkGroup', {
      name: this.workGroupName,
      description: `Queries over the feature tables of Glue database ${props.database}`,
      // Deleting the stack deletes the workgroup with its saved queries and history.
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        // Clients cannot send results elsewhere or lift the cutoff.
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        bytesScannedCutoffPerQuery: props.bytesScannedCutoffPerQuery ?? 10 * GIB,
        engineVersion: { selectedEngineVersion: 'Athena engine version 3' },
        resultConfiguration: {
          outputLocation: props.results.s3UrlForObject(this.resultsPrefix),
          encryptionConfiguration: { encryptionOption: 'SSE_S3' },
        },
      },
    });

    this.namedQueries = SAVED_QUERIES.map((query) => {
      const saved = new athena.CfnNamedQuery(this, query.id, {
        name: query.name,
        description: query.description,
        database: props.database,
        workGroup: this.workGroupName,
        queryString: query.sql(props.database),
      });
      saved.node.addDependency(this.workGroup);
      return saved;
    });
  }

  /**
   * Lets `grantee` run queries in this workgroup: Athena on the workgroup, Glue reads of the
   * database and its tables, reads of the warehouse bucket, and its own results.
   */
  grantQuery(grantee: iam.IGrantable): iam.Grant {
    const stack = Stack.of(this);
    const queries = iam.Grant.addToPrincipal({
      grantee,
      actions: [
        'athena:StartQueryExecution',
        'athena:StopQueryExecution',
        'athena:GetQueryExecution',
        'athena:GetQueryResults',
        'athena:GetWorkGroup',
        'athena:ListNamedQueries',
        'athena:GetNamedQuery',
        'athena:BatchGetNamedQuery',
      ],
      resourceArns: [stack.formatArn({ service: 'athena', resource: 'workgroup', resourceName: this.workGroupName })],
    });
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetTables', 'glue:GetPartitions'],
      resourceArns: [
        stack.formatArn({ service: 'glue', resource: 'catalog' }),
        stack.formatArn({ service: 'glue', resource: 'database', resourceName: this.props.database }),
        stack.formatArn({ service: 'glue', resource: 'table', resourceName: `${this.props.database}/*` }),
      ],
    });
    this.props.features.grantRead(grantee);
    this.props.results.grantReadWrite(grantee, `${this.resultsPrefix}*`);
    return queries;
  }

  private static validateProps(props: FeatureQueriesProps): void {
    if (!/^[a-z0-9_]{1,255}$/.test(props.database)) {
      throw new Error(`FeatureQueries: database must be a Glue database name (a-z, 0-9, _), got '${props.database}'`);
    }
    if (props.resultsPrefix !== undefined && !/^[^/].*\/$/.test(props.resultsPrefix)) {
      throw new Error(
        `FeatureQueries: resultsPrefix must end in / and not start with one, got '${props.resultsPrefix}'`,
      );
    }
    const name = props.workGroupName;
    if (name !== undefined && !Token.isUnresolved(name) && !/^[a-zA-Z0-9._-]{1,128}$/.test(name)) {
      throw new Error(
        `FeatureQueries: workGroupName must be 1-128 characters of a-z, A-Z, 0-9, '.', '_', '-', got '${props.workGroupName}'`,
      );
    }
    const cutoff = props.bytesScannedCutoffPerQuery;
    if (cutoff !== undefined && (!Number.isInteger(cutoff) || cutoff < MIN_CUTOFF)) {
      throw new Error(
        `FeatureQueries: bytesScannedCutoffPerQuery must be an integer of at least ${MIN_CUTOFF}, got ${cutoff}`,
      );
    }
  }
}
