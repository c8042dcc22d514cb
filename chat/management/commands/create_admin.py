"""Create an admin (staff and superuser) whose password never appears in a command line.

``python -m deploy superuser STAGE USERNAME`` puts the password in a one-time Secrets Manager
secret and runs ``create_admin USERNAME --password-secret NAME`` on an instance: this reads
the secret, deletes it, and makes the account under the same rules as the admin's own form
(the password validators, no name that looks like another's). Locally, ``--password-stdin``
reads it from standard input.
"""

import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction


class Command(BaseCommand):
    help = "Create an admin account; the password comes from a secret or standard input."
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument(
            "--password-secret", help="a Secrets Manager secret holding the password; deleted"
        )
        source.add_argument("--password-stdin", action="store_true")

    def handle(self, *args, username, email, password_secret, password_stdin, **options):
        if password_secret:
            password = self._take_secret(password_secret)
        else:
            password = (options.get("stdin") or sys.stdin).readline().rstrip("\n")
        from chat.admin import UserCreationForm

        form = UserCreationForm(
            data={"username": username, "password1": password, "password2": password,
                  "usable_password": "true"},
        )  # fmt: skip
        if not form.is_valid():
            problems = "; ".join(
                f"{field}: {' '.join(errors)}" if field != "__all__" else " ".join(errors)
                for field, errors in form.errors.items()
            )
            raise CommandError(f"No admin created: {problems}")
        with transaction.atomic():
            user = form.save(commit=False)
            user.email = email
            user.is_staff = user.is_superuser = True
            user.save()
        self.stdout.write(f"Admin {user.get_username()} created; sign in at /admin/.")

    def _take_secret(self, name: str) -> str:
        """The secret's value; the secret is deleted at once, whatever happens next."""

        import boto3

        # The stack sets AWS_REGION (botocore itself reads only AWS_DEFAULT_REGION).
        client = boto3.client("secretsmanager", region_name=settings.AWS_REGION)
        try:
            value = client.get_secret_value(SecretId=name)["SecretString"]
        except client.exceptions.ResourceNotFoundException:
            raise CommandError(f"No secret {name}: it was used already or never made.") from None
        client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
        return value
