"""The deployment: the stack's template, `python -m deploy` against moto_server and dry, the
instance role against the calls the app makes, and the Elastic Beanstalk bundle."""

import io
import json
import os
import re
import shlex
import subprocess
import sys
import time
import uuid
import zipfile

import boto3
import httpx
import moto.cloudformation.parsing
import pytest
from botocore.client import BaseClient
from pynamodb.attributes import TTLAttribute

from deploy import bundle, ops, template
from tests import deploying
from tests.deploying import NETWORK, RESOURCES, SITE, TEMPLATE, of_type, run_deploy, sets
from tests.servers import ROOT, free_port, server_env

# What moto's CloudFormation cannot create; the deploy command leaves them out there, and the
# tests below check what they declare.
MOTO_LACKS = sorted({r["Type"] for r in RESOURCES.values()} - set(
    moto.cloudformation.parsing.get_model_map()
))  # fmt: skip


# -- `python -m deploy` ------------------------------------------------------------------------


def test_a_dry_run_prints_every_call_and_makes_none():
    # No server answers on this port: a call made would fail.
    nowhere = f"http://127.0.0.1:{free_port()}"
    done = run_deploy("up", "dev", "--dry-run", "--endpoint-url", nowhere, *sets(*SITE, *NETWORK))
    assert done.returncode == 0, done.stderr
    calls = re.findall(r"^would call (\S+)", done.stdout, re.MULTILINE)
    assert calls == [
        "elasticbeanstalk.list_platform_versions", "synthetics.describe_runtime_versions",
        "sts.get_caller_identity", "s3.create_bucket", "s3.put_public_access_block",
        "s3.put_bucket_encryption",
        "s3.put_object", "cloudformation.validate_template",  # the template: over 51,200 bytes
        "s3.put_object", "s3.put_object",  # the bundle, the canary's code
        "cloudformation.create_stack",
    ]  # fmt: skip
    # Validated as it is deployed: from the bucket (CloudFormation refuses a larger body).
    assert len(template.body(TEMPLATE).encode()) > template.BODY_LIMIT
    validate = next(line for line in done.stdout.splitlines() if "validate_template" in line)
    assert '"TemplateURL"' in validate and "TemplateBody" not in validate
    # The platform is the newest version of stages.toml's branch, found at deploy time.
    listed = next(line for line in done.stdout.splitlines() if "list_platform_versions" in line)
    assert '"Values": ["Ready"]' in listed
    create = next(line for line in done.stdout.splitlines() if "create_stack" in line)
    assert '"ParameterKey": "PlatformArn"' in create and '"ParameterKey": "CanaryKey"' in create
    create = next(line for line in done.stdout.splitlines() if "create_stack" in line)
    assert '"CAPABILITY_NAMED_IAM"' in create and '"ParameterValue": "dev"' in create
    assert "nothing was changed" in done.stdout
    assert "would use or make the secret chat/dev/media-signing-key" in done.stdout
    assert "PRIVATE KEY" not in done.stdout
    gone = run_deploy("down", "prod", "--dry-run", "--endpoint-url", nowhere)
    assert gone.returncode == 0, gone.stderr
    calls = re.findall(r"^would call (\S+)", gone.stdout, re.MULTILINE)
    assert "cloudformation.delete_stack" in calls
    assert calls[-2:] == ["s3.delete_bucket", "secretsmanager.delete_secret"]


def test_down_deletes_nothing_unless_the_stage_is_typed():
    nowhere = f"http://127.0.0.1:{free_port()}"
    done = run_deploy("down", "dev", "--endpoint-url", nowhere, stdin="yes\n")
    assert done.returncode != 0 and "Nothing deleted" in done.stderr
    assert "call " not in done.stdout


def test_down_refuses_a_stage_whose_database_is_protected_before_touching_anything(moto_server):
    rds = boto3.client("rds", endpoint_url=moto_server.url, region_name="us-east-1")
    s3 = boto3.client("s3", endpoint_url=moto_server.url, region_name="us-east-1")
    rds.create_db_instance(
        DBInstanceIdentifier="chat-prod", Engine="postgres", DBInstanceClass="db.t4g.micro",
        MasterUsername="chat", MasterUserPassword="a-long-password-1", AllocatedStorage=20,
        DeletionProtection=True,
    )  # fmt: skip
    deploy_bucket = "chat-prod-deploy-123456789012-us-east-1"
    s3.create_bucket(Bucket=deploy_bucket)
    s3.put_object(Bucket=deploy_bucket, Key="bundles/kept.zip", Body=b"zip")
    try:
        done = run_deploy("down", "prod", "--endpoint-url", moto_server.url, "--yes")
        assert done.returncode != 0 and "deletion protection" in done.stderr
        assert "database (RDS)" in done.stderr
        assert "call " not in done.stdout
        assert s3.list_objects_v2(Bucket=deploy_bucket)["KeyCount"] == 1
        # The load balancer's protection stops it too.
        rds.modify_db_instance(DBInstanceIdentifier="chat-prod", DeletionProtection=False)
        ec2 = boto3.client("ec2", endpoint_url=moto_server.url, region_name="us-east-1")
        subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"][:2]]
        elbv2 = boto3.client("elbv2", endpoint_url=moto_server.url, region_name="us-east-1")
        balancer = elbv2.create_load_balancer(Name="chat-prod", Subnets=subnets)
        arn = balancer["LoadBalancers"][0]["LoadBalancerArn"]
        elbv2.modify_load_balancer_attributes(
            LoadBalancerArn=arn,
            Attributes=[{"Key": "deletion_protection.enabled", "Value": "true"}],
        )
        try:
            done = run_deploy("down", "prod", "--endpoint-url", moto_server.url, "--yes")
            assert done.returncode != 0 and "load balancer (EC2)" in done.stderr
            assert "database" not in done.stderr
            assert s3.list_objects_v2(Bucket=deploy_bucket)["KeyCount"] == 1
        finally:
            elbv2.modify_load_balancer_attributes(
                LoadBalancerArn=arn,
                Attributes=[{"Key": "deletion_protection.enabled", "Value": "false"}],
            )
            elbv2.delete_load_balancer(LoadBalancerArn=arn)
    finally:
        rds.modify_db_instance(DBInstanceIdentifier="chat-prod", DeletionProtection=False)
        rds.delete_db_instance(DBInstanceIdentifier="chat-prod", SkipFinalSnapshot=True)
        s3.delete_object(Bucket=deploy_bucket, Key="bundles/kept.zip")
        s3.delete_bucket(Bucket=deploy_bucket)


def test_up_creates_the_stage_on_moto_server_and_down_removes_it(moto_server):
    # (dev: tests/test_commands.py makes tables of a "staging" stage on the same server.)
    url = moto_server.url
    ec2 = boto3.client("ec2", endpoint_url=url, region_name="us-east-1")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    subnets = ",".join(s["SubnetId"] for s in ec2.describe_subnets()["Subnets"][:2])
    # The load balancer's HTTPS listener takes a certificate that exists.
    acm = boto3.client("acm", endpoint_url=url, region_name="us-east-1")
    certificate = acm.request_certificate(DomainName="chat-dev.chat-project.net")
    settings = [f"VpcId={vpc}", f"PublicSubnets={subnets}", f"PrivateSubnets={subnets}",
                f"CertificateArn={certificate['CertificateArn']}", SITE[1]]  # fmt: skip
    args = ["--endpoint-url", url, "--without-types", ",".join(MOTO_LACKS)]
    up = run_deploy("up", "dev", *args, *[a for s in settings for a in ("--set", s)])
    assert up.returncode == 0, up.stdout + up.stderr
    assert "chat-dev is up: https://chat-dev.chat-project.net/" in up.stdout

    cloudformation = boto3.client("cloudformation", endpoint_url=url, region_name="us-east-1")
    stack = cloudformation.describe_stacks(StackName="chat-dev")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    dynamodb = boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1")
    tables = [t for t in dynamodb.list_tables()["TableNames"] if t.startswith("chat-dev-")]
    names = ("connections", "messages", "send-keys", "sequences")
    assert sorted(tables) == [f"chat-dev-{n}" for n in names]
    # (moto's CloudFormation does not apply TimeToLiveSpecification; the declared TTL is checked
    # against the store's in test_the_template_s_tables_are_the_store_s.)
    messages = dynamodb.describe_table(TableName="chat-dev-messages")["Table"]
    assert [i["IndexName"] for i in messages["GlobalSecondaryIndexes"]] == ["messageId-index"]
    s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
    account = "123456789012"
    media = f"chat-dev-media-{account}"
    rules = s3.get_bucket_encryption(Bucket=media)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    tags = s3.get_bucket_tagging(Bucket=media)["TagSet"]
    assert {"Key": "chat:stage", "Value": "dev"} in tags
    # (moto's CloudFormation applies a bucket's encryption and tags only: its public access
    # block, CORS and lifecycle rules are checked as declared, below.)
    iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1")
    assert iam.get_role_policy(RoleName="chat-dev-app", PolicyName="chat-app")
    # The CloudFront key pair of members' files: the private key only in Secrets Manager, the
    # public key (and the secret's ARN) the stack's parameters.
    secrets = boto3.client("secretsmanager", endpoint_url=url, region_name="us-east-1")
    signing = secrets.get_secret_value(SecretId="chat/dev/media-signing-key")
    assert signing["SecretString"].startswith("-----BEGIN PRIVATE KEY-----")
    assert "PRIVATE KEY" not in up.stdout + up.stderr
    given = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert given["MediaSigningKeySecret"] == signing["ARN"]
    # (MediaSigningPublicKey goes to CloudFront's public key, which moto lacks: left out here.)
    assert "made the media signing key chat/dev/media-signing-key" in up.stdout
    deploy_bucket = f"chat-dev-deploy-{account}-us-east-1"
    (stored,) = s3.list_objects_v2(Bucket=deploy_bucket)["Contents"]
    assert re.fullmatch(r"bundles/dev-\d{8}-\d{6}-[0-9a-f]{12}\.zip", stored["Key"])
    s3.put_object(Bucket=media, Key="media/c/a/photo.png", Body=b"x")  # a file sent in a chat

    # Again: the stack is updated (a new bundle), not created twice.
    again = run_deploy("up", "dev", *args, *[a for s in settings for a in ("--set", s)])
    assert again.returncode == 0, again.stdout + again.stderr
    assert "update_stack" in again.stdout and "deploy bucket" in again.stdout
    assert "made the media signing key" not in again.stdout  # the same key pair kept
    kept = secrets.get_secret_value(SecretId="chat/dev/media-signing-key")
    assert kept["SecretString"] == signing["SecretString"]

    down = run_deploy("down", "dev", "--endpoint-url", url, "--yes")
    assert down.returncode == 0, down.stdout + down.stderr
    assert "emptied chat-dev-media-123456789012: 1 objects" in down.stdout
    assert "photo.png" not in down.stdout  # counts, not members' file names
    remaining = [t for t in dynamodb.list_tables()["TableNames"] if t.startswith("chat-dev-")]
    assert remaining == []
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert not [b for b in buckets if b.startswith("chat-dev-")]
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName="chat-dev-app")
    with pytest.raises(secrets.exceptions.ResourceNotFoundException):
        secrets.get_secret_value(SecretId="chat/dev/media-signing-key")


# -- What moto cannot create: the declared properties ------------------------------------------


def test_the_cdn_reads_private_buckets_through_origin_access_control():
    (oac,) = of_type("AWS::CloudFront::OriginAccessControl").values()
    config = oac["OriginAccessControlConfig"]
    assert (config["SigningBehavior"], config["SigningProtocol"]) == ("always", "sigv4")
    (distribution,) = of_type("AWS::CloudFront::Distribution").values()
    origins = distribution["DistributionConfig"]["Origins"]
    assert {o["Id"] for o in origins} == {"static", "media"}
    for origin in origins:
        assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["OriginAccessControl", "Id"]}
    behaviors = distribution["DistributionConfig"]["CacheBehaviors"]
    # Checked files only: the quarantine prefix (uploads/) has no path to the CDN.
    assert [(b["PathPattern"], b["TargetOriginId"]) for b in behaviors] == [("/media/*", "media")]
    for config in [distribution["DistributionConfig"]["DefaultCacheBehavior"], *behaviors]:
        assert config["ViewerProtocolPolicy"] == "redirect-to-https"
    # Members' files: never sniffed, sandboxed when opened on their own, and served only by
    # URLs the app signed with the stage's key (its key group).
    (media,) = behaviors
    assert media["ResponseHeadersPolicyId"] == {"Ref": "MediaHeadersPolicy"}
    assert media["TrustedKeyGroups"] == [{"Ref": "MediaKeyGroup"}]
    group = of_type("AWS::CloudFront::KeyGroup")["MediaKeyGroup"]["KeyGroupConfig"]
    assert group["Items"] == [{"Ref": "MediaPublicKey"}]
    public_key = of_type("AWS::CloudFront::PublicKey")["MediaPublicKey"]["PublicKeyConfig"]
    assert public_key["EncodedKey"] == {"Ref": "MediaSigningPublicKey"}
    options = RESOURCES["Environment"]["Properties"]["OptionSettings"]
    named = {o["OptionName"]: o["Value"] for o in options if "OptionName" in o}
    assert named["CHAT_CDN_KEY_ID"] == {"Ref": "MediaPublicKey"}
    assert named["CHAT_CDN_PRIVATE_KEY"] == {"Ref": "MediaSigningKeySecret"}
    assert not [d for d in media if d in {"TrustedSigners"}]  # key groups, not account keys
    headers = of_type("AWS::CloudFront::ResponseHeadersPolicy")["MediaHeadersPolicy"]
    security = headers["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert security["ContentTypeOptions"] == {"Override": True}
    assert security["ContentSecurityPolicy"] == {
        "ContentSecurityPolicy": "default-src 'none'; sandbox",
        "Override": True,
    }
    policies = of_type("AWS::S3::BucketPolicy")
    for name, prefix in (("MediaBucketPolicy", "media/*"), ("StaticBucketPolicy", "static/*")):
        read, tls = policies[name]["PolicyDocument"]["Statement"]
        assert read["Principal"] == {"Service": "cloudfront.amazonaws.com"}
        assert read["Resource"]["Fn::Sub"].endswith(prefix)
        assert "distribution/${Distribution}" in json.dumps(read["Condition"])
        assert tls["Effect"] == "Deny" and tls["Condition"] == {
            "Bool": {"aws:SecureTransport": False}
        }
    for name in ("MediaBucket", "StaticBucket"):
        bucket = RESOURCES[name]["Properties"]
        assert all(bucket["PublicAccessBlockConfiguration"].values())
        assert len(bucket["PublicAccessBlockConfiguration"]) == 4
        assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    media = RESOURCES["MediaBucket"]["Properties"]
    (cors,) = media["CorsConfiguration"]["CorsRules"]
    assert cors["AllowedMethods"] == ["POST"]  # the browser's presigned POST, nothing else
    assert cors["AllowedOrigins"] == [{"Fn::Sub": "https://${DomainName}"}]
    rules = {r["Id"]: r for r in media["LifecycleConfiguration"]["Rules"]}
    assert rules["unattached-uploads"]["Prefix"] == "uploads/"
    assert rules["unattached-uploads"]["ExpirationInDays"] == 1


def test_the_data_stores_are_encrypted_private_and_kept_on_prod():
    (cache,) = of_type("AWS::ElastiCache::ReplicationGroup").values()
    assert cache["AtRestEncryptionEnabled"] is True and cache["TransitEncryptionEnabled"] is True
    assert cache["AutomaticFailoverEnabled"] == {"Fn::If": ["IsProd", True, False]}
    database = RESOURCES["Database"]
    assert database["DeletionPolicy"] == "Snapshot"
    props = database["Properties"]
    assert props["StorageEncrypted"] is True and props["PubliclyAccessible"] is False
    assert props["MultiAZ"] == props["DeletionProtection"] == {"Fn::If": ["IsProd", True, False]}
    assert (
        "{{resolve:secretsmanager:${DatabasePassword}}}" in props["MasterUserPassword"]["Fn::Sub"]
    )
    for name, secret in of_type("AWS::SecretsManager::Secret").items():
        if name == "CognitoClientSecret":  # Cognito's own, not made up here
            continue
        assert secret["GenerateSecretString"]["PasswordLength"] >= 40
    for table in of_type("AWS::DynamoDB::Table").values():
        assert table["BillingMode"] == "PAY_PER_REQUEST"
        assert table["SSESpecification"] == {"SSEEnabled": True}
    pitr = RESOURCES["MessagesTable"]["Properties"]["PointInTimeRecoverySpecification"]
    assert pitr == {"PointInTimeRecoveryEnabled": {"Fn::If": ["IsProd", True, False]}}
    for group in of_type("AWS::Logs::LogGroup").values():
        assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_the_environment_is_websocket_friendly_healthy_and_configured():
    options = deploying.environment_options(RESOURCES["Environment"]["Properties"])
    # The stack's own load balancer, shared with Elastic Beanstalk, serves the site on HTTPS.
    assert options[("aws:elasticbeanstalk:environment", "LoadBalancerType")] == "application"
    assert options[("aws:elasticbeanstalk:environment", "LoadBalancerIsShared")] == "true"
    assert options[("aws:elbv2:loadbalancer", "SharedLoadBalancer")] == {"Ref": "LoadBalancer"}
    assert options[("aws:elbv2:listener:443", "Rules")] == "chat"
    hosts = options[("aws:elbv2:listenerrule:chat", "HostHeaders")]["Fn::Sub"]
    assert hosts.startswith("${DomainName},chat-${Stage}-${AWS::AccountId}.")
    balancer = RESOURCES["LoadBalancer"]["Properties"]
    attributes = {a["Key"]: a["Value"] for a in balancer["LoadBalancerAttributes"]}
    assert attributes["idle_timeout.timeout_seconds"] == "180"
    listeners = of_type("AWS::ElasticLoadBalancingV2::Listener")
    assert listeners["HttpsListener"]["Protocol"] == "HTTPS"
    assert listeners["HttpsListener"]["SslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    (redirect,) = listeners["HttpListener"]["DefaultActions"]
    assert redirect["RedirectConfig"]["Protocol"] == "HTTPS"
    # The platform is an ARN (updated in place), not a solution stack name (replaced).
    environment = RESOURCES["Environment"]["Properties"]
    assert environment["PlatformArn"] == {"Ref": "PlatformArn"}
    assert "SolutionStackName" not in environment
    process = "aws:elasticbeanstalk:environment:process:default"
    assert options[(process, "HealthCheckPath")] == "/health/"
    assert options[("aws:elasticbeanstalk:cloudwatch:logs", "StreamLogs")] == "true"
    app = {name: v for (ns, name), v in options.items() if ns.endswith("application:environment")}
    assert app["CHAT_STORE"] == "dynamodb" and app["CHAT_MEDIA"] == "s3"
    assert app["DJANGO_DEBUG"] == "0"
    secrets = {n for (ns, n) in options if ns.endswith("application:environmentsecrets")}
    assert secrets == {"DJANGO_SECRET_KEY", "DJANGO_SECRET_KEY_FALLBACKS", "DATABASE_PASSWORD",
                       "CHAT_CDN_PRIVATE_KEY"}  # fmt: skip
    assert "DJANGO_SECRET_KEY" not in app and "DATABASE_PASSWORD" not in app
    # Every variable the environment sets is one the app reads (the README's table).
    readme = (ROOT / "README.md").read_text()
    for name in [*app, *secrets]:
        assert f"`{name}`" in readme, name


ALARMS = {
    # alarm resource: (its name, the metrics it watches)
    "LoadBalancerErrorsAlarm": ("elb-5xx", {"HTTPCode_ELB_5XX_Count"}),
    "ServerErrorsAlarm": ("5xx-rate", {"HTTPCode_Target_5XX_Count", "RequestCount"}),
    "LatencyAlarm": ("p99-latency", {"TargetResponseTime"}),
    "HealthyHostsAlarm": ("healthy-hosts", {"HealthyHostCount"}),
    "SiteDownAlarm": ("site-down", {"SuccessPercent"}),
    "DatabaseCpuAlarm": ("db-cpu", {"CPUUtilization"}),
    "DatabaseStorageAlarm": ("db-free-storage", {"FreeStorageSpace"}),
    "DatabaseMemoryAlarm": ("db-free-memory", {"FreeableMemory"}),
    "DatabaseConnectionsAlarm": ("db-connections", {"DatabaseConnections"}),
    "RedisCpuAlarm": ("redis-cpu", {"EngineCPUUtilization"}),
    "RedisMemoryAlarm": ("redis-memory", {"DatabaseMemoryUsagePercentage"}),
    "RedisConnectionsAlarm": ("redis-connections", {"CurrConnections"}),
    "DynamoThrottlesAlarm": ("dynamodb-throttles", {"WriteThrottleEvents", "ReadThrottleEvents"}),
    "DynamoSystemErrorsAlarm": ("dynamodb-system-errors", {"SystemErrors"}),
}


def test_alarms_cover_the_edge_the_app_the_data_stores_and_say_when_they_are_over():
    alarms = of_type("AWS::CloudWatch::Alarm")
    destinations = [
        {"Ref": "AlarmTopic"},
        {"Fn::If": ["HasAlarmTopic", {"Ref": "AlarmTopicArn"}, {"Ref": "AWS::NoValue"}]},
    ]
    watched = {}
    for name, alarm in alarms.items():
        found = (
            [alarm.get("MetricName")]
            + [
                m.get("MetricStat", {}).get("Metric", {}).get("MetricName")
                for m in alarm.get("Metrics", [])
            ]
            + re.findall(r"MIN\((\w+)\)", json.dumps(alarm.get("Metrics", [])))
        )
        watched[name] = (alarm["AlarmName"]["Fn::Sub"].removeprefix("chat-${Stage}-"),
                         {m for m in found if m})  # fmt: skip
        # Every alarm pages both destinations, and says so again when it is over.
        assert alarm["AlarmActions"] == destinations, name
        assert alarm["OKActions"] == destinations, name
    assert watched == ALARMS
    # Load balancer alarms name the stack's own load balancer.
    for name in ("LoadBalancerErrorsAlarm", "LatencyAlarm"):
        full_name = {"Fn::GetAtt": ["LoadBalancer", "LoadBalancerFullName"]}
        assert alarms[name]["Dimensions"] == [{"Name": "LoadBalancer", "Value": full_name}]
    assert alarms["LatencyAlarm"]["ExtendedStatistic"] == "p99"
    # A total outage is no data: these two count it as breaching.
    hosts = alarms["HealthyHostsAlarm"]
    assert hosts["TreatMissingData"] == "breaching"
    assert hosts["ComparisonOperator"] == "LessThanThreshold"
    assert hosts["Threshold"] == {"Ref": "MinInstances"}
    assert "${LoadBalancer.LoadBalancerFullName}" in hosts["Metrics"][0]["Expression"]["Fn::Sub"]
    assert alarms["SiteDownAlarm"]["TreatMissingData"] == "breaching"
    # DynamoDB publishes a metric only in minutes it happened: the sums FILL the gaps with 0, so
    # they exist every minute (and the alarm can end).
    for name in ("DynamoThrottlesAlarm", "DynamoSystemErrorsAlarm"):
        (total,) = [m for m in alarms[name]["Metrics"] if m.get("ReturnData")]
        parts = [m["Id"] for m in alarms[name]["Metrics"] if "MetricStat" in m]
        assert total["Expression"] == " + ".join(f"FILL({p}, 0)" for p in parts)
    # Redis: both nodes (prod's primary is whichever a failover left).
    for name in ("RedisCpuAlarm", "RedisMemoryAlarm", "RedisConnectionsAlarm"):
        nodes = [m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Fn::Sub"]
                 for m in alarms[name]["Metrics"] if "MetricStat" in m]  # fmt: skip
        assert nodes == ["chat-${Stage}-001", "chat-${Stage}-002"]
    # Deploys keep MinInstances healthy (an extra batch first), on every stage.
    options = deploying.environment_options(RESOURCES["Environment"]["Properties"])
    policy = options[("aws:elasticbeanstalk:command", "DeploymentPolicy")]
    assert policy == "RollingWithAdditionalBatch"
    (dashboard,) = of_type("AWS::CloudWatch::Dashboard").values()
    body = dashboard["DashboardBody"]["Fn::Sub"]
    json.loads(re.sub(r"\$\{[^}]+\}", "x", body))  # valid JSON once substituted


def test_the_outside_check_runs_the_smoke_test_s_probe():
    canary = RESOURCES["Canary"]["Properties"]
    assert canary["Code"] == {
        "Handler": "canary.handler",
        "S3Bucket": {"Ref": "BundleBucket"},
        "S3Key": {"Ref": "CanaryKey"},
    }
    assert canary["Schedule"]["Expression"] == "rate(5 minutes)"
    assert canary["RunConfig"]["EnvironmentVariables"] == {
        "CHAT_SITE": {"Fn::Sub": "https://${DomainName}"}
    }
    code, _ = ops.canary_zip()
    with zipfile.ZipFile(io.BytesIO(code)) as archive:
        assert archive.namelist() == ["python/canary.py"]
        assert archive.read("python/canary.py") == (ROOT / "deploy" / "probe.py").read_bytes()


def test_the_edge_has_a_firewall_access_logs_and_a_stable_name():
    acl = RESOURCES["WebAcl"]["Properties"]
    assert acl["Scope"] == "REGIONAL"
    rules = {r["Name"]: r for r in acl["Rules"]}
    managed = {
        r["Statement"]["ManagedRuleGroupStatement"]["Name"]
        for r in acl["Rules"] if "ManagedRuleGroupStatement" in r["Statement"]
    }  # fmt: skip
    assert managed == {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
                       "AWSManagedRulesAmazonIpReputationList"}  # fmt: skip
    flood = rules["log-in-flood"]
    assert flood["Action"] == {"Block": {}}
    rate = flood["Statement"]["RateBasedStatement"]
    assert rate["AggregateKeyType"] == "IP" and rate["Limit"] <= 100
    assert rate["ScopeDownStatement"]["ByteMatchStatement"]["SearchString"] == "/accounts/login/"
    # The log-in path is Django's: the rule guards the page people sign in on.
    from django.urls import reverse

    assert reverse("login") == "/accounts/login/"
    # A chat message may say "<script>": those body rules count, they do not block.
    overrides = rules["common"]["Statement"]["ManagedRuleGroupStatement"]["RuleActionOverrides"]
    assert {o["Name"]: o["ActionToUse"] for o in overrides} == {
        "CrossSiteScripting_BODY": {"Count": {}}, "SizeRestrictions_BODY": {"Count": {}}
    }  # fmt: skip
    association = RESOURCES["WebAclAssociation"]["Properties"]
    assert association == {"ResourceArn": {"Ref": "LoadBalancer"},
                           "WebACLArn": {"Fn::GetAtt": ["WebAcl", "Arn"]}}  # fmt: skip
    balancer = RESOURCES["LoadBalancer"]["Properties"]
    attributes = {a["Key"]: a["Value"] for a in balancer["LoadBalancerAttributes"]}
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["access_logs.s3.bucket"] == {"Ref": "LogsBucket"}
    logs = RESOURCES["LogsBucket"]["Properties"]
    (expiry,) = logs["LifecycleConfiguration"]["Rules"]
    assert expiry["ExpirationInDays"] == {"Ref": "LogRetentionDays"}
    write = RESOURCES["LogsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert write["Resource"] == {"Fn::Sub": "${LogsBucket.Arn}/alb/AWSLogs/${AWS::AccountId}/*"}
    # The output host is Elastic Beanstalk's stable name, not a load balancer it may rebuild.
    outputs = TEMPLATE["Outputs"]
    assert outputs["Host"]["Value"] == {
        "Fn::Sub": "chat-${Stage}-${AWS::AccountId}.${AWS::Region}.elasticbeanstalk.com"
    }
    assert "Environment" not in json.dumps(outputs)
    record = RESOURCES["DomainRecord"]
    assert record["Condition"] == "HasHostedZone"
    assert record["Properties"]["AliasTarget"]["DNSName"] == {
        "Fn::GetAtt": ["LoadBalancer", "DNSName"]
    }


def test_operators_get_in_by_session_manager_and_versions_are_kept():
    role = RESOURCES["InstanceRole"]["Properties"]
    assert {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"} in (
        role["ManagedPolicyArns"]
    )
    options = deploying.environment_options(RESOURCES["Environment"]["Properties"])
    assert ("aws:autoscaling:launchconfiguration", "EC2KeyName") not in options
    restriction = options[("aws:autoscaling:launchconfiguration", "SSHSourceRestriction")]
    assert restriction.endswith("127.0.0.1/32")
    for group in of_type("AWS::EC2::SecurityGroup").values():
        for rule in group.get("SecurityGroupIngress", []):
            assert not rule["FromPort"] <= 22 <= rule["ToPort"]
    # Each deploy's application version outlives the next deploy (rollback's versions).
    version = RESOURCES["ApplicationVersion"]
    assert version["UpdateReplacePolicy"] == version["DeletionPolicy"] == "Retain"
    # Prod's members' files keep their old versions 30 days.
    media = RESOURCES["MediaBucket"]["Properties"]
    assert media["VersioningConfiguration"] == {
        "Fn::If": ["IsProd", {"Status": "Enabled"}, {"Ref": "AWS::NoValue"}]
    }
    rules = {r["Id"]: r for r in media["LifecycleConfiguration"]["Rules"]}
    assert rules["old-versions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}


# -- The tables: the template, create_dynamodb_tables and the store agree -----------------------


def _shape(description: dict) -> dict:
    """A table's keys and indexes, as DescribeTable or the template state them."""
    attributes = {
        a["AttributeName"]: a["AttributeType"] for a in description["AttributeDefinitions"]
    }

    def keys(schema):
        return [(k["AttributeName"], k["KeyType"], attributes[k["AttributeName"]]) for k in schema]

    return {
        "keys": keys(description["KeySchema"]),
        "indexes": sorted(
            (i["IndexName"], tuple(keys(i["KeySchema"])), i["Projection"]["ProjectionType"])
            for i in description.get("GlobalSecondaryIndexes", [])
        ),
    }


def test_the_template_s_tables_are_the_store_s(moto_server):
    from chat.stores.dynamodb import MessageStore

    prefix = f"chat-agree{uuid.uuid4().hex[:6]}"
    store = MessageStore(
        prefix=prefix,
        client={"host": moto_server.url, "region": "us-east-1", "connect_timeout_seconds": 2,
                "read_timeout_seconds": 10, "max_retry_attempts": 1, "max_pool_connections": 4},
    )  # fmt: skip
    store.create_tables()
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_server.url, region_name="us-east-1")
    declared = {
        props["TableName"]["Fn::Sub"].replace("chat-${Stage}-", ""): props
        for props in of_type("AWS::DynamoDB::Table").values()
    }
    models = {model.Meta.table_name.removeprefix(f"{prefix}-"): model for model in store.models}
    assert declared.keys() == models.keys() == {"messages", "sequences", "send-keys", "connections"}
    for suffix, props in declared.items():
        created = dynamodb.describe_table(TableName=f"{prefix}-{suffix}")["Table"]
        assert _shape(props) == _shape(created), suffix
        ttl = dynamodb.describe_time_to_live(TableName=f"{prefix}-{suffix}")
        created_ttl = ttl["TimeToLiveDescription"].get("AttributeName")
        declared_ttl = props.get("TimeToLiveSpecification", {}).get("AttributeName")
        assert created_ttl == declared_ttl, suffix
        model = models[suffix]
        ttl_attribute = [
            a.attr_name for a in model.get_attributes().values() if isinstance(a, TTLAttribute)
        ]
        assert ttl_attribute == ([declared_ttl] if declared_ttl else [])
        assert created["BillingModeSummary"]["BillingMode"] == props["BillingMode"]


# -- The instance role: the calls the app makes, on these resources, and nothing more ----------


def _recorder(monkeypatch):
    calls = []
    original = BaseClient._make_api_call

    def record(self, operation, params):
        calls.append((self.meta.service_model.service_name, operation, dict(params)))
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", record)
    return calls


def _dynamodb_actions(operation, params, tables):
    """``(action, resource)`` pairs IAM checks for a DynamoDB call (``tables``: name -> id)."""
    if operation == "TransactWriteItems":
        pairs = []
        for item in params["TransactItems"]:
            ((kind, body),) = item.items()
            action = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                      "ConditionCheck": "ConditionCheckItem"}[kind]  # fmt: skip
            pairs.append((f"dynamodb:{action}", ("table", tables[body["TableName"]])))
        return pairs
    if operation.startswith("Batch"):
        return [(f"dynamodb:{operation}", ("table", tables[n])) for n in params["RequestItems"]]
    table = ("table", tables[params["TableName"]])
    if params.get("IndexName"):
        table = ("index", tables[params["TableName"]], params["IndexName"])
    return [(f"dynamodb:{operation}", table)]


S3_ACTIONS = {
    "PutObject": ["s3:PutObject"], "GetObject": ["s3:GetObject"], "HeadObject": ["s3:GetObject"],
    "DeleteObject": ["s3:DeleteObject"], "DeleteObjects": ["s3:DeleteObject"],
    "CopyObject": ["s3:GetObject", "s3:PutObject"], "ListObjectsV2": ["s3:ListBucket"],
    "ListObjects": ["s3:ListBucket"], "HeadBucket": ["s3:ListBucket"],
}  # fmt: skip


def _allowed(statements, action, resource) -> bool:
    """Whether an Allow statement of the template's policy grants ``action`` on ``resource``
    (a symbolic resource: ``("table", logical id)``, ``("objects", bucket logical id)``...)."""
    for statement in statements:
        if statement["Effect"] != "Allow":
            continue
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        if action not in actions:
            continue
        for granted in statement["Resource"]:
            if granted.get("Fn::GetAtt") == [resource[1], "Arn"] and resource[0] in (
                "table",
                "bucket",
            ):
                return True
            sub = granted.get("Fn::Sub", "")
            if resource[0] == "index" and sub == f"${{{resource[1]}.Arn}}/index/{resource[2]}":
                return True
            if resource[0] == "objects" and sub == f"${{{resource[1]}.Arn}}/*":
                return True
    return False


def test_the_instance_role_allows_the_app_s_calls_and_nothing_else(
    monkeypatch, moto_server, dynamodb_store, settings, make_user, make_chat, tmp_path
):
    from django.core.files.base import ContentFile
    from django.core.management import call_command
    from storages.backends.s3 import S3ManifestStaticStorage

    from chat.moderation.actions import message_remove
    from chat.stores.base import Connection, NewMessage
    from tests.clients import api_as
    from tests.files import png, upload_url

    s3 = boto3.client("s3", endpoint_url=moto_server.url, region_name="us-east-1")
    media, static = f"media-{uuid.uuid4().hex[:8]}", f"static-{uuid.uuid4().hex[:8]}"
    for bucket in (media, static):
        s3.create_bucket(Bucket=bucket)  # the stack makes them
    calls = _recorder(monkeypatch)
    # The store: every method once.
    store, chat_id = dynamodb_store, str(uuid.uuid4())
    new = NewMessage(chat_id=chat_id, user_id="1", username="a", body="hello there",
                     client_message_id="k", timestamp=int(time.time() * 1000))  # fmt: skip
    sent = store.append(new).message
    store.append(new)  # a retry: the send key's original
    store.history(chat_id, limit=5)
    store.after(chat_id, after_seq=0, limit=5)
    store.last_seq(chat_id)
    store.last_messages([chat_id])
    store.messages_at(chat_id, [1])
    store.message_find(chat_id, sent.message_id)
    store.message_edit(chat_id, 1, body="hello again", edited_at=1)
    store.search([chat_id], ["hello"], limit=5)
    store.message_delete(chat_id, 1)
    now = int(time.time())
    socket = Connection(
        connection_id=f"c{uuid.uuid4().hex}", user_id="1", connected_at=1, ttl=now + 60
    )
    store.connections_write(put=[socket], remove=[])
    store.connection_get(socket.connection_id, now=now)
    store.connections_for_user("1", now=now)
    store.users_online(["1"], now=now)
    store.connections_purge(now=now)
    store.connections_write(put=[], remove=[socket.connection_id])
    store.chat_delete(chat_id)

    # Files: an upload attached (checked, moved, thumbnailed), the message deleted, a purge.
    s3_options = {"endpoint_url": moto_server.url, "region_name": "us-east-1",
                  "default_acl": None, "querystring_auth": False}  # fmt: skip
    settings.CHAT_MEDIA, settings.CHAT_MEDIA_BUCKET = "s3", media
    settings.STORAGES = {
        **settings.STORAGES,
        "media": {"BACKEND": "storages.backends.s3.S3Storage",
                  "OPTIONS": {**s3_options, "bucket_name": media}},
    }  # fmt: skip
    alice, bob = make_user(), make_user()
    chat = make_chat(alice, bob, name="files")
    ticket = upload_url(alice, str(chat.pk), data=png()).json()
    posted = httpx.post(ticket["url"], data=ticket["fields"], files={"file": ("p.png", png())})
    assert posted.status_code == 204
    message = (
        api_as(alice)
        .post(
            f"/api/chats/{chat.pk}/messages",
            {"message": "pic", "attachments": [ticket["attachmentId"]]},
            format="json",
        )
        .json()
    )
    message_remove(chat_id=str(chat.pk), seq=message["seq"])
    stale = upload_url(alice, str(chat.pk), data=png()).json()
    httpx.post(stale["url"], data=stale["fields"], files={"file": ("p.png", png())})
    from chat.models import Upload

    Upload.objects.filter(pk=stale["attachmentId"]).update(expires_at="2000-01-01T00:00:00Z")
    call_command("purge_uploads")
    # Static files: what collectstatic does with the static bucket.
    storage = S3ManifestStaticStorage(**s3_options, bucket_name=static, location="static")
    storage.save("chat/probe.css", ContentFile(b"body{}"))
    storage.exists("chat/probe.css")
    storage.open("chat/probe.css").read()
    storage.listdir("chat")
    storage.delete("chat/probe.css")

    tables = {f"{dynamodb_store.prefix}-{n}": logical for n, logical in [
        ("messages", "MessagesTable"), ("sequences", "SequencesTable"),
        ("send-keys", "SendKeysTable"), ("connections", "ConnectionsTable"),
    ]}  # fmt: skip
    buckets = {media: "MediaBucket", static: "StaticBucket"}
    needed = set()
    for service, operation, params in calls:
        if service == "dynamodb":
            needed |= set(_dynamodb_actions(operation, params, tables))
        elif service == "s3" and params.get("Bucket") in buckets:
            kind = "objects" if "Key" in params or operation == "DeleteObjects" else "bucket"
            for action in S3_ACTIONS[operation]:
                needed.add((action, (kind, buckets[params["Bucket"]])))
    # The browser's POST is signed by the app: it needs s3:PutObject on the media bucket.
    needed.add(("s3:PutObject", ("objects", "MediaBucket")))
    expected = {"dynamodb:PutItem", "dynamodb:Query", "dynamodb:BatchWriteItem", "s3:PutObject",
                "s3:DeleteObject"}  # fmt: skip
    assert {a for a, _ in needed} >= expected

    (policy,) = RESOURCES["InstanceRole"]["Properties"]["Policies"]
    statements = policy["PolicyDocument"]["Statement"]
    refused = sorted(str(n) for n in needed if not _allowed(statements, *n))
    assert refused == []
    for statement in statements:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        resources = (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
        assert not [a for a in actions if "*" in a], statement["Sid"]
        assert "*" not in resources, statement["Sid"]
    # Nothing granted that the app does not use (DescribeTable: the store's start-up check).
    granted = {a for s in statements if s["Sid"] in ("MessageStore", "Files") for a in s["Action"]}
    unused = (
        granted - {a for a, _ in needed} - {"dynamodb:DescribeTable", "dynamodb:ConditionCheckItem"}
    )
    assert unused == set()


# -- The bundle ---------------------------------------------------------------------------------


def test_the_bundle_holds_what_elastic_beanstalk_reads(tmp_path):
    digest = bundle.build(tmp_path / "bundle.zip")
    assert re.fullmatch(r"[0-9a-f]{12}", digest)
    assert bundle.build(tmp_path / "again.zip") == digest  # the same sources, the same digest
    with zipfile.ZipFile(tmp_path / "bundle.zip") as archive:
        names = set(archive.namelist())
        hook = archive.getinfo(".platform/hooks/predeploy/01_raw_app_logs.sh")
        config_hook = archive.getinfo(".platform/confighooks/predeploy/01_raw_app_logs.sh")
        procfile = archive.read("Procfile").decode()
        requirements = archive.read("requirements.txt").decode()
        wrapper = archive.getinfo("bin/chat-manage")
    # The platform installs the lock file: pinned versions, every file checked by its hash.
    assert requirements == (ROOT / "requirements.lock").read_text()
    assert (wrapper.external_attr >> 16) & 0o111, "bin/chat-manage must be executable"
    for required in ["Procfile", "requirements.txt", "manage.py", ".platform/nginx/nginx.conf",
                     ".platform/nginx/conf.d/elasticbeanstalk/00_application.conf",
                     ".platform/nginx/conf.d/elasticbeanstalk/healthd.conf",
                     ".ebextensions/01_chat.config", "chatsite/asgi.py",
                     "chat/realtime/consumers.py",
                     "templates/base.html", "static/chat/room.js"]:  # fmt: skip
        assert required in names, required
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.startswith(("tests/", "bench/", ".venv/", "var/"))]
    for info in (hook, config_hook):
        assert (info.external_attr >> 16) & 0o111, "hooks must be executable"
    assert procfile.startswith("web: uvicorn chatsite.asgi:application")
    config = (ROOT / ".ebextensions" / "01_chat.config").read_text()
    assert config.count("leader_only: true") == 3
    nginx = ROOT / ".platform" / "nginx"
    main = (nginx / "nginx.conf").read_text()
    proxy = (nginx / "conf.d" / "elasticbeanstalk" / "00_application.conf").read_text()
    health = (nginx / "conf.d" / "elasticbeanstalk" / "healthd.conf").read_text()
    for line in ["client_header_timeout  10s;", "keepalive_timeout      185s;"]:
        assert line in main
    # One "location /" (nginx refuses a second): ours replaces the platform's file.
    assert "location" not in main and proxy.count("location / {") == 1
    for line in ["proxy_set_header    Upgrade             $http_upgrade;",
                 "proxy_read_timeout  180s;"]:  # fmt: skip
        assert line in proxy
    # The load balancer's health check reaches the app under a host it serves.
    assert "location = /health/" in proxy and "Host        localhost;" in proxy
    assert "healthd if=$not_upgrade;" in health
    # Log-in forms are rate-limited per client (the load balancer's X-Forwarded-For entry).
    assert "limit_req_zone  $client_address  zone=login:10m  rate=20r/m;" in main
    assert "limit_req_status  429;" in main
    pattern = "^/((accounts|admin)/login/$|accounts/oidc/)"
    login = proxy[proxy.index(f"location ~ {pattern} {{") :]
    assert "limit_req           zone=login burst=10 nodelay;" in login.split("}")[0]
    # (nginx's regular expressions are PCRE: Python's agree on these paths.)
    limited = re.compile(pattern)
    for path in ("/accounts/login/", "/admin/login/", "/accounts/oidc/authenticate/",
                 "/accounts/oidc/callback/"):  # fmt: skip
        assert limited.search(path), path
    for path in ("/accounts/login/x", "/accounts/signup/", "/api/me", "/"):
        assert not limited.search(path), path


def test_the_procfile_command_serves_the_health_check(tmp_path):
    (web,) = [
        line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:")
    ]
    port = free_port()
    command = shlex.split(web.removeprefix("web:").strip())
    command[command.index("--host") + 1] = "127.0.0.1"
    command[command.index("--port") + 1] = str(port)
    env = server_env(
        f"sqlite:///{tmp_path / 'db.sqlite3'}", DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="a-production-like-secret-key-" + uuid.uuid4().hex,
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
    )  # fmt: skip
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    bin_dir = os.path.dirname(sys.executable)
    env["PATH"] = f"{bin_dir}:{env.get('PATH', '')}"
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/health/", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read().decode()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        assert (answer.status_code, answer.text) == (200, "ok")
    finally:
        process.terminate()
        process.wait(timeout=10)


# -- docs/operations.md ------------------------------------------------------------------------


def test_the_runbook_names_every_alarm_and_its_commands_are_all_run_by_the_suite():
    text = (ROOT / "docs" / "operations.md").read_text()
    assert text.index("## Day one") < text.index("## Getting in")  # the runbook comes first
    rows = {
        m.group(1): m.group(2)
        for m in re.finditer(r"^\| `chat-<stage>-([a-z0-9-]+)` \| [^|]+ \| ([^|]+) \|$", text, re.M)
    }
    named = {alarm["AlarmName"]["Fn::Sub"].removeprefix("chat-${Stage}-")
             for alarm in of_type("AWS::CloudWatch::Alarm").values()}  # fmt: skip
    assert set(rows) == named
    assert all(len(do.strip()) > 20 for do in rows.values())  # each says what to do
    commands = set(re.findall(r"python -m deploy ([a-z][a-z-]*)", text))
    assert commands >= {"up", "down", "smoke", "superuser", "manage", "versions", "rollback",
                        "rotate-secret"}  # fmt: skip
    suites = "".join((ROOT / "tests" / name).read_text()
                     for name in ("test_deploy.py", "test_deploy_ops.py"))  # fmt: skip
    for command in commands:
        run = f'run_deploy("{command}"' in suites
        called = f"ops.{command.replace('-', '_')}(" in suites
        assert run or called, f"python -m deploy {command} is in the runbook but no test runs it"


def test_cognito_is_optional_and_wired_into_the_app_when_on(moto_server):
    cognito = ["UserPool", "UserPoolClient", "UserPoolDomain", "CognitoClientSecret"]
    for name in cognito:
        assert RESOURCES[name]["Condition"] == "UseCognito", name
    assert TEMPLATE["Parameters"]["Cognito"]["Default"] == "off"
    client = RESOURCES["UserPoolClient"]["Properties"]
    assert client["AllowedOAuthFlows"] == ["code"] and client["GenerateSecret"] is True
    assert client["AllowedOAuthScopes"] == ["openid", "email", "profile"]
    # The app's own callback and log-out pages (chatsite/urls.py), on the stage's domain.
    assert client["CallbackURLs"] == [{"Fn::Sub": "https://${DomainName}/accounts/oidc/callback/"}]
    assert client["LogoutURLs"] == [{"Fn::Sub": "https://${DomainName}/accounts/login/"}]
    # The client secret goes from the client to Secrets Manager, and to the app as a secret.
    secret = RESOURCES["CognitoClientSecret"]["Properties"]
    assert secret["SecretString"] == {"Fn::GetAtt": ["UserPoolClient", "ClientSecret"]}
    environment = RESOURCES["Environment"]["Properties"]
    off = deploying.environment_options(environment)
    on = deploying.environment_options(environment, cognito=True)
    assert not [name for _, name in off if name.startswith("CHAT_OIDC_")]
    app = "aws:elasticbeanstalk:application:environment"
    assert on[(app, "CHAT_OIDC_ISSUER")] == {
        "Fn::Sub": "https://cognito-idp.${AWS::Region}.amazonaws.com/${UserPool}"
    }
    assert on[(app, "CHAT_OIDC_CLIENT_ID")] == {"Ref": "UserPoolClient"}
    assert on[(app, "CHAT_OIDC_LOGOUT_URL")]["Fn::Sub"].endswith(".amazoncognito.com/logout")
    assert on[(app + "secrets", "CHAT_OIDC_CLIENT_SECRET")] == {"Ref": "CognitoClientSecret"}
    assert off[(app, "CHAT_LOCAL_SIGNUP")] == {"Ref": "LocalSignup"}
    policy = RESOURCES["InstanceRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    (reads,) = [s for s in policy if s.get("Sid") == "Secrets"]
    assert {"Fn::If": ["UseCognito", {"Ref": "CognitoClientSecret"}, {"Ref": "AWS::NoValue"}]} in (
        reads["Resource"]
    )
    assert {"CognitoUserPool", "CognitoHostedUi"} <= set(TEMPLATE["Outputs"])
    # moto's CloudFormation cannot make Cognito resources; its Cognito API takes the pool,
    # client and domain as declared (every property name and value checked against AWS's API
    # model by botocore), and issues the client's secret.
    idp = boto3.client("cognito-idp", endpoint_url=moto_server.url, region_name="us-east-1")
    pool_properties = dict(RESOURCES["UserPool"]["Properties"])
    pool_properties.pop("UserPoolName")
    pool_properties["DeletionProtection"] = "INACTIVE"
    pool_properties["UserPoolTags"] = {"chat:stage": "dev"}
    pool = idp.create_user_pool(PoolName="chat-dev", **pool_properties)["UserPool"]
    client_properties = {k: v for k, v in client.items() if k not in {"UserPoolId", "ClientName"}}
    client_properties["CallbackURLs"] = [
        "https://chat-dev.chat-project.net/accounts/oidc/callback/"
    ]
    client_properties["LogoutURLs"] = ["https://chat-dev.chat-project.net/accounts/login/"]
    made = idp.create_user_pool_client(
        UserPoolId=pool["Id"], ClientName="chat-dev-web", **client_properties
    )["UserPoolClient"]
    assert made["ClientSecret"] and made["AllowedOAuthFlows"] == ["code"]
    idp.create_user_pool_domain(Domain="chat-dev-123456789012", UserPoolId=pool["Id"])
