"""Make (or bring up to date) the PostgreSQL role the app connects as: it may read and write
rows, and nothing else — no tables made, altered or dropped, no other roles. The owner (the
master user, which runs the migrations) runs this after each migrate; tables the owner makes
later get the same grants by default. Its password comes from an environment variable, never a
command line."""

import os

from django.core.management.base import BaseCommand, CommandError
from django.db import connection


class Command(BaseCommand):
    help = "Create or update the app's least-privilege PostgreSQL role (run as the owner)."

    def add_arguments(self, parser):
        parser.add_argument("role", nargs="?", default="chat_app")
        parser.add_argument(
            "--password-env", default="CHAT_APP_DB_PASSWORD",
            help="the environment variable holding the role's password",
        )  # fmt: skip

    def handle(self, *args, role, password_env, **options):
        if connection.vendor != "postgresql":
            raise CommandError("Only PostgreSQL has roles to make.")
        password = os.environ.get(password_env, "")
        if not password:
            raise CommandError(f"{password_env} is empty: the role needs a password.")
        from psycopg import sql

        name = sql.Identifier(role)
        database = sql.Identifier(connection.settings_dict["NAME"])
        # psycopg's own cursor: Django's would log the statements (and so the password) when
        # debugging.
        connection.ensure_connection()
        with connection.connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            owner = sql.Identifier(cursor.fetchone()[0])
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            verb = "ALTER" if cursor.fetchone() else "CREATE"
            statements = [
                sql.SQL(verb + " ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                        "PASSWORD {}").format(name, sql.Literal(password)),
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(database, name),
                # Temporary tables are tables too: PUBLIC may make them by default.
                sql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM PUBLIC").format(database),
                sql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM {}").format(database, name),
                sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(name),
                sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public "
                        "TO {}").format(name),
                # nextval for new rows' ids; not setval (UPDATE), which only an owner needs.
                sql.SQL("REVOKE UPDATE ON ALL SEQUENCES IN SCHEMA public FROM {}").format(name),
                sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(name),
                sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public GRANT SELECT, "
                        "INSERT, UPDATE, DELETE ON TABLES TO {}").format(owner, name),
                sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public GRANT USAGE, "
                        "SELECT ON SEQUENCES TO {}").format(owner, name),
            ]  # fmt: skip
            for statement in statements:
                cursor.execute(statement)
        if not connection.get_autocommit():
            connection.connection.commit()
        done = "made" if verb == "CREATE" else "updated"
        self.stdout.write(f"Role {role} {done}: it may read and write rows, nothing else.")
