import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { stageConfig } from './config';
import { DnisSyncStack } from './stack';

const app = new App();
const config = stageConfig(app.node.tryGetContext('stage'));
new DnisSyncStack(app, `DnisSync-${config.stage}`, {
  config,
  description: `dnis-sync (${config.stage}): keeps RingCX phone numbers in sync with CSV files`,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
// Unacknowledged cdk-nag findings make synth fail.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
