"""Operating a stage: what `up` refuses before it touches anything, one-off commands and the
first admin through Run Command, the on-instance wrapper, versions and rollback, the smoke test.
Against moto_server where it has the API (EC2, SSM, Secrets Manager); Elastic Beanstalk's
version calls, which moto lacks, against botocore's Stubber (it checks every request and answer
against the service's model)."""

import datetime
import http.server
import io
import json
import os
import re
import subprocess
import sys
import threading

import boto3
import pytest
from botocore.stub import Stubber

from deploy import ops
from deploy.__main__ import Aws
from tests.deploying import NETWORK, RESOURCES, SITE, environment_options, run_deploy, sets
from tests.servers import AWS_TEST_ENV, ROOT, Uvicorn, free_port, migrate, server_env

PAGER = "arn:aws:sns:us-east-1:123456789012:pager"


def _nowhere() -> str:
    return f"http://127.0.0.1:{free_port()}"  # a call made would fail


# -- up refuses early ---------------------------------------------------------------------------


def test_up_refuses_the_example_values_one_line_each_before_any_call():
    done = run_deploy("up", "dev", "--endpoint-url", _nowhere())
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert all(line.startswith("refused: ") for line in lines), lines
    named = {line.split()[1] for line in lines}
    assert named == {"CertificateArn", "DomainName", "PrivateSubnets", "PublicSubnets", "VpcId"}
    assert "call " not in done.stdout and "bundle" not in done.stdout


def test_up_refuses_unknown_parameters_a_certificate_elsewhere_and_a_silent_prod():
    done = run_deploy(
        "up", "dev", "--dry-run", "--endpoint-url", _nowhere(), "--region", "eu-west-1",
        *sets(*SITE, *NETWORK, "MaxInstanses=4", "BundleKey=mine.zip"),
    )  # fmt: skip
    assert done.returncode == 2
    assert "refused: MaxInstanses is not a parameter of the stack" in done.stderr
    assert "refused: BundleKey is set by the deploy command" in done.stderr
    assert "CertificateArn is in us-east-1 but the stack deploys to eu-west-1" in done.stderr
    assert "would call" not in done.stdout
    prod = run_deploy("up", "prod", "--dry-run", "--endpoint-url", _nowhere(),
                      *sets(*SITE, *NETWORK, "AlarmEmail="))  # fmt: skip
    assert prod.returncode == 2
    assert "prod has no alarm destination" in prod.stderr
    told = run_deploy("up", "prod", "--dry-run", "--endpoint-url", _nowhere(),
                      "--no-alarm-destination", *sets(*SITE, *NETWORK, "AlarmEmail="))  # fmt: skip
    assert told.returncode == 0, told.stderr
    paged = run_deploy(
        "up", "prod", "--dry-run", "--endpoint-url", _nowhere(),
        *sets(*SITE, *NETWORK, "AlarmEmail=", f"AlarmTopicArn={PAGER}"),
    )  # fmt: skip
    assert paged.returncode == 0, paged.stderr
    assert '"ParameterKey": "AlarmTopicArn"' in paged.stdout


def test_up_refuses_settings_cloudformation_would_fail_on_halfway():
    done = run_deploy(
        "up", "prod", "--dry-run", "--endpoint-url", _nowhere(),
        *sets(*SITE, *NETWORK, "MinInstances=3", "MaxInstances=2",
              "PublicSubnets=subnet-0aa11bb22cc33dd44", "AlarmEmail=ops at example",
              "AlarmTopicArn=arn:aws:sns:eu-west-1:123456789012:pager", "LogRetentionDays=15"),
    )  # fmt: skip
    assert done.returncode == 2
    for reason in (
        "refused: MinInstances is above MaxInstances",
        "refused: PublicSubnets needs two subnets (in different zones), not 1",
        "refused: AlarmEmail 'ops at example' is not an email address",
        "refused: AlarmTopicArn is in eu-west-1 but the stack deploys to us-east-1",
        "refused: LogRetentionDays '15' is not one of 7, 14, 30, 60, 90, 180, 365",
    ):
        assert reason in done.stderr
    half = run_deploy("up", "dev", "--dry-run", "--endpoint-url", _nowhere(),
                      *sets(*SITE, *NETWORK, "MinInstances=1.5"))  # fmt: skip
    assert "refused: MinInstances 1.5 is not a whole number" in half.stderr
    blank = run_deploy("up", "prod", "--dry-run", "--endpoint-url", _nowhere(),
                       *sets(*SITE, *NETWORK, "AlarmEmail= "))  # fmt: skip
    assert "prod has no alarm destination" in blank.stderr


def test_operator_mistakes_are_one_line_not_a_traceback(tmp_path):
    env = {"AWS_PROFILE": "no-such-profile", "AWS_CONFIG_FILE": str(tmp_path / "none")}
    unknown = run_deploy("versions", "dev", "--endpoint-url", _nowhere(), env=env)
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
    assert unknown.stderr.startswith("python -m deploy: The config profile (no-such-profile)")
    no_tty = run_deploy("superuser", "dev", "root", "--dry-run", stdin="")
    assert no_tty.returncode != 0 and "pass --password-stdin" in no_tty.stderr
    assert "Traceback" not in no_tty.stderr
    no_answer = run_deploy("down", "dev", "--endpoint-url", _nowhere(), stdin="")
    assert no_answer.returncode != 0 and "pass --yes" in no_answer.stderr
    for url in ("chat.mycorp.io", "http://[::1", "ftp://chat.example.net"):
        bad = run_deploy("smoke", "dev", "--url", url)
        assert bad.returncode != 0 and "not a site address" in bad.stderr, bad.stderr
    # Options may come before or after the names.
    mixed = run_deploy("superuser", "dev", "--password-stdin", "root", "--dry-run",
                       stdin="Correct-Horse-Battery-9\n")  # fmt: skip
    assert mixed.returncode == 0, mixed.stderr
    assert "create_admin root --password-secret" in mixed.stdout
    assert "Correct-Horse" not in mixed.stdout
    moved = run_deploy("rollback", "dev", "--dry-run", "dev-20261201-000000-abc")
    assert 'VersionLabel": "dev-20261201-000000-abc"' in moved.stdout, moved.stderr


def test_the_undo_of_a_migration_runs_as_the_owner(moto_server, instance):
    done = run_deploy("manage", "staging", "--endpoint-url", moto_server.url, "--",
                      "--as-owner", "migrate", "chat", "0011")  # fmt: skip
    assert done.returncode == 0, done.stderr
    sent = [c for c in _commands(moto_server.url) if instance in c["InstanceIds"]]
    assert sent[-1]["Parameters"]["commands"] == [
        "/var/app/current/bin/chat-manage --as-owner migrate chat 0011"
    ]


def test_without_credentials_the_deploy_says_so_in_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true", AWS_REGION="us-east-1",
    )  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "deploy", "versions", "dev", "--endpoint-url", _nowhere()],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "python -m deploy: no AWS credentials: set AWS_PROFILE (aws configure sso / aws configure)"
        " or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    ]


# -- manage and superuser through Run Command ---------------------------------------------------


@pytest.fixture
def instance(moto_server):
    """A running instance of chat-ops's environment, as Elastic Beanstalk tags it."""
    ec2 = boto3.client("ec2", endpoint_url=moto_server.url, region_name="us-east-1")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    tags = [{"Key": "elasticbeanstalk:environment-name", "Value": "chat-staging"}]
    made = ec2.run_instances(
        ImageId=image, MinCount=1, MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
    )["Instances"][0]["InstanceId"]  # fmt: skip
    yield made
    ec2.terminate_instances(InstanceIds=[made])


def _commands(url: str) -> list[dict]:
    ssm = boto3.client("ssm", endpoint_url=url, region_name="us-east-1")
    return ssm.list_commands()["Commands"]


def test_manage_runs_one_command_on_one_instance_of_the_stage(moto_server, instance):
    done = run_deploy("manage", "staging", "--endpoint-url", moto_server.url, "--",
                      "migrate", "chat", "0001", "--plan")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"running on {instance}" in done.stdout
    assert "manage.py finished: Success, exit code 0" in done.stdout
    sent = [c for c in _commands(moto_server.url) if instance in c["InstanceIds"]]
    assert sent[-1]["DocumentName"] == "AWS-RunShellScript"
    assert sent[-1]["Parameters"]["commands"] == [
        "/var/app/current/bin/chat-manage migrate chat 0001 --plan"
    ]
    # Output streams to the stack's log group (moto keeps no CloudWatchOutputConfig: as sent).
    assert '"CloudWatchLogGroupName": "/aws/ssm/chat-staging"' in done.stdout
    # A stage with no instance: one line, not a traceback.
    missing = run_deploy("manage", "dev", "--endpoint-url", moto_server.url, "--", "check")
    assert missing.returncode != 0
    assert missing.stderr.strip() == "chat-dev has no running instance in us-east-1"
    nothing = run_deploy("manage", "staging", "--endpoint-url", moto_server.url)
    assert "nothing to run" in nothing.stderr


def test_superuser_hands_the_password_over_in_a_one_time_secret_never_a_command_line(
    moto_server, instance
):
    password = "Correct-Horse-Battery-9"
    done = run_deploy("superuser", "staging", "root", "--password-stdin",
                      "--endpoint-url", moto_server.url, stdin=password + "\n")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert password not in done.stdout + done.stderr
    (sent,) = [c for c in _commands(moto_server.url) if c.get("Comment") == "create admin root"]
    (command,) = sent["Parameters"]["commands"]
    assert password not in json.dumps(sent, default=str)
    found = re.fullmatch(
        r"/var/app/current/bin/chat-manage create_admin root --password-secret "
        r"(chat/staging/one-time/superuser-[0-9a-f]{12})",
        command,
    )
    assert found, command
    # The secret is gone afterwards (deleted by the instance, or by the deploy command).
    secrets = boto3.client("secretsmanager", endpoint_url=moto_server.url, region_name="us-east-1")
    with pytest.raises(secrets.exceptions.ResourceNotFoundException):
        secrets.get_secret_value(SecretId=found.group(1))


def test_the_instance_wrapper_runs_manage_py_with_the_environment_and_its_secrets(
    moto_server, tmp_path
):
    """bin/chat-manage as Run Command starts it: the platform's variables and the secrets they
    name reach manage.py; create_admin reads the one-time secret and deletes it."""
    secrets = boto3.client("secretsmanager", endpoint_url=moto_server.url, region_name="us-east-1")
    key = secrets.create_secret(Name=f"chat/wrap-{free_port()}/key", SecretString="s" * 50)
    one_time = f"chat/staging/one-time/superuser-{free_port():012x}"
    secrets.create_secret(Name=one_time, SecretString="Correct-Horse-Battery-9")
    database = f"sqlite:///{tmp_path / 'app.sqlite3'}"
    settings = {
        "environment": {"DJANGO_DEBUG": "0", "DATABASE_URL": database,
                        "DJANGO_ALLOWED_HOSTS": "chat.test", "AWS_REGION": "us-east-1"},
        "optionsettings": {
            "aws:elasticbeanstalk:application:environmentsecrets": {"DJANGO_SECRET_KEY": key["ARN"]}
        },
    }  # fmt: skip
    get_config = tmp_path / "get-config"
    get_config.write_text(
        f"#!{sys.executable}\nimport json, sys\n"
        f"print(json.dumps({json.dumps(settings)}[sys.argv[1]]))\n"
    )
    get_config.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env.update(AWS_TEST_ENV, CHAT_GET_CONFIG=str(get_config), CHAT_VENV=str(ROOT / ".venv"),
               AWS_ENDPOINT_URL_SECRETS_MANAGER=moto_server.url)  # fmt: skip
    if not (ROOT / ".venv" / "bin" / "python").exists():
        env["CHAT_VENV"] = str(sys.prefix)
    migrate({**server_env(database), "DJANGO_DEBUG": "1"})

    def wrapper(*arguments):
        return subprocess.run([str(ROOT / "bin" / "chat-manage"), *arguments], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=120)  # fmt: skip

    shown = wrapper("shell", "-c", "from django.conf import settings as s; "
                    "print(s.DEBUG, s.SECRET_KEY == 's' * 50, s.ALLOWED_HOSTS)")  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    # (Django's shell first says what it imported: the last line is the command's.)
    assert shown.stdout.splitlines()[-1].split() == ["False", "True", "['chat.test']"]
    made = wrapper("create_admin", "root", "--password-secret", one_time)
    assert made.returncode == 0, made.stderr
    assert "Admin root created" in made.stdout
    assert "Correct-Horse" not in made.stdout + made.stderr
    with pytest.raises(secrets.exceptions.ResourceNotFoundException):
        secrets.get_secret_value(SecretId=one_time)
    again = wrapper("create_admin", "root", "--password-secret", one_time)
    assert again.returncode != 0 and "used already or never made" in again.stderr
    check = wrapper("shell", "-c", "from django.contrib.auth import authenticate; "
                    "u = authenticate(username='root', password='Correct-Horse-Battery-9'); "
                    "print(u.is_staff, u.is_superuser)")  # fmt: skip
    assert check.stdout.splitlines()[-1].split() == ["True", "True"], check.stderr


@pytest.mark.django_db
def test_create_admin_keeps_the_admin_form_s_rules(capsys):
    from django.contrib.auth import get_user_model
    from django.core.management import CommandError, call_command

    User = get_user_model()
    User.objects.create_user("alice", password="x-long-password-1")
    with pytest.raises(CommandError, match="too short"):
        call_command("create_admin", "boss", "--password-stdin", stdin=_lines("short"))
    with pytest.raises(CommandError, match="looks like one already taken"):
        call_command("create_admin", "aIice", "--password-stdin", stdin=_lines("a-Long-pass-99"))
    assert not User.objects.filter(is_superuser=True).exists()


def _lines(text):
    return io.StringIO(text + "\n")


# -- versions and rollback ----------------------------------------------------------------------


def _aws(endpoint_url=None, out=None):
    """The deploy command's AWS calls, quiet unless ``out`` is given."""
    return Aws(region="us-east-1", endpoint_url=endpoint_url, dry_run=False,
               out=out or io.StringIO())  # fmt: skip


def _client(service: str):
    """A client for botocore's Stubber (it never reaches a server)."""
    return boto3.client(service, region_name="us-east-1", aws_access_key_id="x",
                        aws_secret_access_key="x")  # fmt: skip


def _stubbed(responses):
    aws, client = _aws(), _client("elasticbeanstalk")
    stubber = Stubber(client)
    for operation, answer, expected in responses:
        stubber.add_response(operation, answer, expected)
    stubber.activate()
    aws._clients["elasticbeanstalk"] = client
    return aws, stubber


def _version(label, day):
    return {
        "ApplicationName": "chat-prod",
        "VersionLabel": label,
        "Description": f"bundles/{label}.zip",
        "DateCreated": datetime.datetime(2026, 12, day, tzinfo=datetime.UTC),
    }


VERSIONS = {
    "ApplicationVersions": [_version("prod-3", 3), _version("prod-1", 1), _version("prod-2", 2)]
}
LISTED = {"ApplicationName": "chat-prod"}
ENVIRONMENT = {"EnvironmentNames": ["chat-prod"], "IncludeDeleted": False}


def test_versions_lists_newest_first_and_marks_the_running_one(capsys):
    aws, stubber = _stubbed([
        ("describe_application_versions", VERSIONS, LISTED),
        ("describe_environments", {"Environments": [{"VersionLabel": "prod-2"}]}, ENVIRONMENT),
    ])  # fmt: skip
    aws.out = sys.stdout
    found = ops.versions(aws, "prod")
    assert [v["VersionLabel"] for v in found] == ["prod-3", "prod-2", "prod-1"]
    shown = [line for line in capsys.readouterr().out.splitlines() if "prod-" in line]
    assert shown[1].startswith("* prod-2  2026-12-02 00:00 UTC")
    assert shown[0].startswith("  prod-3")
    stubber.assert_no_pending_responses()


def test_rollback_deploys_the_version_before_the_running_one_and_waits_for_health(monkeypatch):
    monkeypatch.setattr(ops.time, "sleep", lambda seconds: None)
    updating = {
        "Environments": [{"Status": "Updating", "VersionLabel": "prod-2", "Health": "Grey"}]
    }
    healthy = {"Environments": [{"Status": "Ready", "VersionLabel": "prod-2", "Health": "Green"}]}
    aws, stubber = _stubbed([
        ("describe_application_versions", VERSIONS, LISTED),
        ("describe_environments", {"Environments": [{"VersionLabel": "prod-3"}]}, ENVIRONMENT),
        ("update_environment", {}, {"EnvironmentName": "chat-prod", "VersionLabel": "prod-2"}),
        ("describe_environments", updating, {"EnvironmentNames": ["chat-prod"]}),
        ("describe_environments", healthy, {"EnvironmentNames": ["chat-prod"]}),
    ])  # fmt: skip
    assert ops.rollback(aws, "prod") == "prod-2"
    stubber.assert_no_pending_responses()
    # A version that went in but is not healthy is a failure, not a rollback.
    sick = {"Environments": [{"Status": "Ready", "VersionLabel": "prod-1", "Health": "Red"}]}
    aws, stubber = _stubbed([
        ("describe_application_versions", VERSIONS, LISTED),
        ("describe_environments", {"Environments": [{"VersionLabel": "prod-3"}]}, ENVIRONMENT),
        ("update_environment", {}, {"EnvironmentName": "chat-prod", "VersionLabel": "prod-1"}),
        ("describe_environments", sick, {"EnvironmentNames": ["chat-prod"]}),
    ])  # fmt: skip
    with pytest.raises(SystemExit, match="environment is Red"):
        ops.rollback(aws, "prod", "prod-1")
    aws, _ = _stubbed([
        ("describe_application_versions", VERSIONS, LISTED),
        ("describe_environments", {"Environments": [{"VersionLabel": "prod-1"}]}, ENVIRONMENT),
    ])  # fmt: skip
    with pytest.raises(SystemExit, match="no version older than prod-1"):
        ops.rollback(aws, "prod")


def test_the_platform_is_the_newest_ready_version_of_the_pattern():
    aws, client = _aws(), _client("elasticbeanstalk")
    branch = "Python 3.11 running on 64bit Amazon Linux 2023"

    def platform(version, name=branch):
        return {"PlatformArn": f"arn:aws:elasticbeanstalk:us-east-1::platform/{name}/{version}",
                "PlatformBranchName": name, "PlatformVersion": version}  # fmt: skip

    with Stubber(client) as stubber:
        other = "Python 3.13 running on 64bit Amazon Linux 2023"
        listed = [platform("4.9.2"), platform("4.10.0"), platform("4.11.0", other)]
        stubber.add_response(
            "list_platform_versions", {"PlatformSummaryList": listed, "NextToken": "more"}
        )
        stubber.add_response("list_platform_versions", {"PlatformSummaryList": [platform("4.7.0")]})
        aws._clients["elasticbeanstalk"] = client
        assert ops.resolve_platform(aws).endswith(f"{branch}/4.10.0")  # 4.10 is newer than 4.9
    with Stubber(client) as stubber:
        stubber.add_response("list_platform_versions", {"PlatformSummaryList": [platform("4.9.2")]})
        with pytest.raises(SystemExit, match="no ready Elastic Beanstalk platform matches"):
            ops.resolve_platform(aws, "Python 3.9 *")


# -- smoke ---------------------------------------------------------------------------------------


@pytest.fixture
def site(tmp_path):
    database = f"sqlite:///{tmp_path / 'site.sqlite3'}"
    env = server_env(database)
    migrate(env)
    server = Uvicorn(env, tmp_path / "uvicorn.log").start()
    yield server
    server.stop()


def test_smoke_passes_on_the_app_and_fails_on_a_proxy_that_drops_sockets(site):
    done = run_deploy("smoke", "dev", "--url", site.url)
    assert done.returncode == 0, done.stdout + done.stderr
    for step in ("health check", "sign-in page", "WebSocket handshake"):
        assert f"ok   {step}" in done.stdout
    # A server that answers pages but not the upgrade (a proxy without WebSocket settings).
    page = (ROOT / "templates").exists() and httpx_page(site.url)

    class NoUpgrade(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            status = 400 if self.path == "/ws/" else 200
            body = page if self.path == "/accounts/login/" else b"ok"
            self.send_response(status)
            if self.path == "/accounts/login/":
                self.send_header("Set-Cookie", "csrftoken=x; Path=/")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NoUpgrade)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        broken = run_deploy("smoke", "dev", "--url", f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
    assert broken.returncode == 1
    assert "ok   sign-in page" in broken.stdout
    assert "FAIL WebSocket handshake: /ws/ answered 400" in broken.stdout
    down = run_deploy("smoke", "dev", "--url", _nowhere())
    assert down.returncode == 1 and "FAIL" in down.stdout


def httpx_page(url: str) -> bytes:
    import httpx

    return httpx.get(f"{url}/accounts/login/").content


# -- The database: the app's own role, verified TLS ----------------------------------------------


def test_the_app_role_may_read_and_write_rows_and_nothing_else(tmp_path):
    import psycopg

    from tests.servers import postgres_database

    role = f"chat_app_{free_port()}"
    with postgres_database() as url:
        env = {**server_env(url), "CHAT_APP_DB_PASSWORD": "an-app-password-1"}
        migrate(env)

        def manage(*arguments):
            return subprocess.run([sys.executable, "manage.py", *arguments], cwd=ROOT, env=env,
                                  capture_output=True, text=True, timeout=120)  # fmt: skip

        made = manage("db_app_role", role)
        assert made.returncode == 0, made.stderr
        assert f"Role {role} made" in made.stdout
        again = manage("db_app_role", role)  # after the next migrate: the same grants
        assert f"Role {role} updated" in again.stdout
        assert "an-app-password-1" not in made.stdout + made.stderr + again.stdout
        # A table the owner makes later (the next release's migration) is the role's too.
        with psycopg.connect(url, autocommit=True) as owner:
            owner.execute("CREATE TABLE later_release (id serial PRIMARY KEY, note text)")
        app_url = url.replace("postgres://postgres@", f"postgres://{role}@")
        try:
            with psycopg.connect(app_url, autocommit=True) as app:
                app.execute(
                    "INSERT INTO auth_user (password, is_superuser, username, first_name, "
                    "last_name, email, is_staff, is_active, date_joined) VALUES "
                    "('!', false, 'rowwriter', '', '', '', false, true, now())"
                )
                app.execute(
                    "UPDATE auth_user SET email = 'r@example.com' WHERE username = 'rowwriter'"
                )
                app.execute("INSERT INTO later_release (note) VALUES ('ok')")
                assert app.execute("SELECT count(*) FROM later_release").fetchone() == (1,)
                app.execute("DELETE FROM auth_user WHERE username = 'rowwriter'")
                for statement in ("CREATE TABLE mine (id int)", "DROP TABLE later_release",
                                  "ALTER TABLE auth_user ADD COLUMN x int",
                                  "TRUNCATE auth_user", f"CREATE ROLE {role}_2",
                                  "CREATE TEMP TABLE scratch (id int)",
                                  "SELECT setval('later_release_id_seq', 1000)"):  # fmt: skip
                    with pytest.raises(psycopg.errors.InsufficientPrivilege):
                        app.execute(statement)
        finally:
            with psycopg.connect(url, autocommit=True) as owner:
                owner.execute(f'DROP OWNED BY "{role}"')
                owner.execute(f'DROP ROLE "{role}"')


def test_the_stack_connects_the_app_as_its_role_over_verified_tls():
    options = environment_options(RESOURCES["Environment"]["Properties"])
    app = "aws:elasticbeanstalk:application:environment"
    secret = "aws:elasticbeanstalk:application:environmentsecrets"
    url = options[(app, "DATABASE_URL")]["Fn::Sub"]
    assert url.startswith("postgres://chat_app@")
    assert url.endswith("?sslmode=verify-full&sslrootcert=/etc/pki/rds/global-bundle.pem")
    # The app holds its own role's password; the owner's only by name, for migrations.
    assert options[(secret, "DATABASE_PASSWORD")] == {"Ref": "AppDatabasePassword"}
    assert options[(app, "DATABASE_OWNER_SECRET")] == {"Ref": "DatabasePassword"}
    assert (secret, "DATABASE_OWNER_SECRET") not in options
    master = RESOURCES["Database"]["Properties"]["MasterUserPassword"]["Fn::Sub"]
    assert "${DatabasePassword}" in master and options[(app, "DATABASE_OWNER")] == "chat"
    config = (ROOT / ".ebextensions" / "01_chat.config").read_text()
    commands = re.findall(r'command: "([^"]+)"', config)
    assert commands == [
        "bin/chat-manage --as-owner migrate --noinput",
        "bin/chat-manage --as-owner db_app_role chat_app",
        "bin/chat-manage collectstatic --noinput -v0",
    ]
    hook = ROOT / ".platform" / "hooks" / "prebuild" / "00_rds_ca_bundle.sh"
    text = hook.read_text()
    assert "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem" in text
    assert "/etc/pki/rds/global-bundle.pem" in text and os.access(hook, os.X_OK)
    assert (
        ROOT / ".platform" / "confighooks" / "prebuild" / "00_rds_ca_bundle.sh"
    ).resolve() == hook
    # Django turns the URL's query into psycopg's connection options.
    import environ

    parsed = environ.Env.db_url_config(url.replace("${Database.Endpoint.Address}", "db.internal")
                                       .replace("${Database.Endpoint.Port}", "5432"))  # fmt: skip
    assert parsed["USER"] == "chat_app"
    assert parsed["OPTIONS"] == {"sslmode": "verify-full",
                                 "sslrootcert": "/etc/pki/rds/global-bundle.pem"}  # fmt: skip


def test_as_owner_connects_migrations_as_the_owner_with_the_owner_s_secret(moto_server, tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "app_environment", ROOT / "bin" / "app_environment.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    secrets = boto3.client("secretsmanager", endpoint_url=moto_server.url, region_name="us-east-1")
    owner = secrets.create_secret(Name=f"chat/owner-{free_port()}", SecretString="owner-pass")
    env = {"DATABASE_URL": "postgres://chat_app@db.internal:5432/chat?sslmode=verify-full",
           "DATABASE_PASSWORD": "app-pass", "DATABASE_OWNER": "chat",
           "DATABASE_OWNER_SECRET": owner["ARN"], "AWS_REGION": "us-east-1"}  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            **AWS_TEST_ENV,
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto_server.url,
        }.items():
            patch.setenv(name, value)
        switched = module.as_owner(env)
    assert switched["DATABASE_URL"] == "postgres://chat@db.internal:5432/chat?sslmode=verify-full"
    assert switched["DATABASE_PASSWORD"] == "owner-pass"
    assert switched["CHAT_APP_DB_PASSWORD"] == "app-pass"
    with pytest.raises(SystemExit, match="DATABASE_OWNER_SECRET is not set"):
        module.as_owner({"DATABASE_URL": env["DATABASE_URL"]})


# -- The secret key: rotated without logging anyone out -----------------------------------------


@pytest.mark.django_db
def test_rotating_the_secret_key_keeps_people_signed_in_through_the_fallback(make_user, settings):
    from django.test import Client

    user = make_user("alice")
    kept, dropped = Client(), Client()
    for client in (kept, dropped):
        client.force_login(user)
        assert client.get("/api/chats").status_code == 200
    old = settings.SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "n" * 50, [old]
    assert kept.get("/api/chats").status_code == 200  # signed in still (and moved to the new key)
    settings.SECRET_KEY_FALLBACKS = []
    assert kept.get("/api/chats").status_code == 200
    # Without the fallback, a session signed with the old key is gone.
    assert dropped.get("/api/chats").status_code == 401


def test_rotate_secret_moves_the_key_to_the_fallback_and_restarts_the_app(moto_server):
    secrets = boto3.client("secretsmanager", endpoint_url=moto_server.url, region_name="us-east-1")
    stage = "staging"
    secrets.create_secret(Name=ops.secret_key_name(stage), SecretString="k1" * 20)
    secrets.create_secret(Name=ops.fallbacks_name(stage), SecretString="unused" * 8)
    aws, client = _aws(moto_server.url), _client("elasticbeanstalk")
    try:
        for _ in range(2):
            with Stubber(client) as stubber:
                stubber.add_response("restart_app_server", {}, {"EnvironmentName": "chat-staging"})
                aws._clients["elasticbeanstalk"] = client
                before = secrets.get_secret_value(SecretId=ops.secret_key_name(stage))[
                    "SecretString"
                ]
                ops.rotate_secret(aws, stage)
                stubber.assert_no_pending_responses()
            now = secrets.get_secret_value(SecretId=ops.secret_key_name(stage))["SecretString"]
            fallback = secrets.get_secret_value(SecretId=ops.fallbacks_name(stage))["SecretString"]
            assert fallback == before and now != before and len(now) == 64
    finally:
        for name in (ops.secret_key_name(stage), ops.fallbacks_name(stage)):
            secrets.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


def test_manage_prints_the_output_as_it_comes_and_returns_the_command_s_exit_code(
    monkeypatch, capsys
):
    """_follow against stubbed Run Command and CloudWatch Logs answers (moto's Run Command
    runs nothing): lines appear while the command runs; its exit code is the deploy's."""
    monkeypatch.setattr(ops.time, "sleep", lambda seconds: None)
    aws = _aws(out=sys.stdout)
    ssm, logs = _client("ssm"), _client("logs")
    aws._clients.update(ssm=ssm, logs=logs)
    command, target = "0b6f3c1e-2d4a-4f5b-9c8d-7e6f5a4b3c2d", "i-0123456789abcdef0"
    invocation = {"CommandId": command, "InstanceId": target}
    group = "/aws/ssm/chat-prod"
    stream = f"{command}/{target}/aws-runShellScript/"
    with Stubber(ssm) as ssm_stub, Stubber(logs) as logs_stub:
        ssm_stub.add_response("get_command_invocation", {"Status": "InProgress"}, invocation)
        logs_stub.add_response(
            "get_log_events",
            {"events": [{"timestamp": 1, "message": "Operations to perform:"}],
             "nextForwardToken": "f/1"},
            {"logGroupName": group, "logStreamName": stream + "stdout", "startFromHead": True},
        )  # fmt: skip
        logs_stub.add_client_error("get_log_events", "ResourceNotFoundException")  # no stderr yet
        ssm_stub.add_response(
            "get_command_invocation", {"Status": "Failed", "ResponseCode": 3}, invocation
        )

        def events(name, token, lines):
            expected = {
                "logGroupName": group,
                "logStreamName": stream + name,
                "startFromHead": True,
            }
            if token:
                expected["nextToken"] = token
            found = [{"timestamp": 2, "message": line} for line in lines]
            logs_stub.add_response(
                "get_log_events", {"events": found, "nextForwardToken": f"{name}/2"}, expected
            )

        events("stdout", "f/1", [])  # while it finishes
        events("stderr", None, ["CommandError: no such migration"])
        events("stdout", "stdout/2", [])  # once more after it finished
        events("stderr", "stderr/2", [])
        code = ops._follow(aws, "prod", command, target)
    out = capsys.readouterr().out.splitlines()
    assert code == 3
    assert out[0] == "Operations to perform:"
    assert "CommandError: no such migration" in out
    assert out[-1] == "manage.py finished: Failed, exit code 3"


def test_manage_s_arguments_reach_manage_py_as_arguments_never_as_shell():
    hostile = ["shell", "-c", "print(1); $(touch /tmp/owned) `id` && rm -rf / \x00 ; echo"]
    done = run_deploy("manage", "dev", "--dry-run", "--", *[a.replace("\x00", "") for a in hostile])
    assert done.returncode == 0, done.stderr
    (line,) = [line for line in done.stdout.splitlines() if "ssm.send_command" in line]
    sent = json.loads(line.split(" ", 3)[3])["Parameters"]["commands"][0]
    import shlex

    assert shlex.split(sent) == ["/var/app/current/bin/chat-manage",
                                 *[a.replace("\x00", "") for a in hostile]]  # fmt: skip
