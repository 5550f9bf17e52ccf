import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { stageConfig } from './config';
import { DnisSyncStack } from './stack';
import { RINGCX_BUDGET_TABLE_NAME, RingCxBudgetStack } from './budgetStack';

const app = new App();
const config = stageConfig(app.node.tryGetContext('stage'));
const env = { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION };
// Shared by every stage in the account and region (the same template whichever stage synthesizes it).
const budget = new RingCxBudgetStack(app, 'DnisSync-ringcx-budget', {
  description: 'dnis-sync: the RingCX request budget every stage in this account shares',
  env,
});
const stack = new DnisSyncStack(app, `DnisSync-${config.stage}`, {
  config,
  description: `dnis-sync (${config.stage}): keeps RingCX phone numbers in sync with CSV files`,
  env,
  budgetTableName: RINGCX_BUDGET_TABLE_NAME,
});
stack.addDependency(budget);
// Unacknowledged cdk-nag findings make synth fail.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
