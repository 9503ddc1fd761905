// A small CDK app whose synthesized assembly is walint's CDK test fixture (tests/data/cdk).
// Plain JavaScript so that no TypeScript compile step is needed: `npx cdk synth`.
const path = require("path");
const cdk = require("aws-cdk-lib");
const s3 = require("aws-cdk-lib/aws-s3");
const s3n = require("aws-cdk-lib/aws-s3-notifications");
const sqs = require("aws-cdk-lib/aws-sqs");
const dynamodb = require("aws-cdk-lib/aws-dynamodb");
const lambda = require("aws-cdk-lib/aws-lambda");
const logs = require("aws-cdk-lib/aws-logs");
const sns = require("aws-cdk-lib/aws-sns");

// A NestedStack: its template is a file asset of the parent (*.nested.template.json), not a
// stack artifact of the manifest.
class Alerts extends cdk.NestedStack {
  constructor(scope, id, props) {
    super(scope, id, props);
    new sns.Topic(this, "Topic");
  }
}

class DemoStack extends cdk.Stack {
  constructor(scope, id, props) {
    super(scope, id, props);

    // Findings expected: no encryption, no versioning.
    const bucket = new s3.Bucket(this, "Uploads", {
      encryption: s3.BucketEncryption.UNENCRYPTED,
      // Framework resources: a custom-resource provider Lambda that empties the bucket.
      removalPolicy: cdk.RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });

    const queue = new sqs.Queue(this, "Jobs");
    // Framework resource: the BucketNotificationsHandler Lambda.
    bucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.SqsDestination(queue));

    // Finding expected: no point-in-time recovery.
    new dynamodb.Table(this, "Orders", {
      partitionKey: { name: "pk", type: dynamodb.AttributeType.STRING },
    });

    new lambda.Function(this, "Worker", {
      runtime: lambda.Runtime.NODEJS_20_X,
      handler: "index.handler",
      code: lambda.Code.fromInline("exports.handler = async () => 'ok';"),
      environment: { QUEUE_URL: queue.queueUrl },
      // Framework resource: the LogRetention custom resource and its provider Lambda.
      logRetention: logs.RetentionDays.ONE_WEEK,
    });

    new Alerts(this, "Alerts");
  }
}

class ApiStack extends cdk.Stack {
  constructor(scope, id, props) {
    super(scope, id, props);
    // Code from a directory: an asset.* directory in the assembly, which walint must not walk.
    new lambda.Function(this, "Handler", {
      runtime: lambda.Runtime.NODEJS_20_X,
      handler: "index.handler",
      code: lambda.Code.fromAsset(path.join(__dirname, "handler")),
    });
  }
}

class Prod extends cdk.Stage {
  constructor(scope, id, props) {
    super(scope, id, props);
    new ApiStack(this, "Api");
  }
}

const app = new cdk.App();
new DemoStack(app, "WalintDemo");
new Prod(app, "Prod"); // a Stage: a nested cloud assembly under assembly-Prod/
app.synth();
