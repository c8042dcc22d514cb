"""Create the DynamoDB tables of a stage (idempotent), for local and dev use."""

from django.core.management.base import BaseCommand, CommandError

from chat.stores.base import StoreError


class Command(BaseCommand):
    help = (
        "Create the chat's DynamoDB tables for CHAT_STAGE (or --stage) with TTL enabled, at "
        "AWS_ENDPOINT_URL_DYNAMODB when set. Existing tables are left as they are."
    )

    def add_arguments(self, parser):
        parser.add_argument("--stage", help="Stage whose tables to create (default: CHAT_STAGE).")

    def handle(self, *args, stage=None, **options):
        from pynamodb.exceptions import PynamoDBException

        from chat.stores.dynamodb import MessageStore

        store = MessageStore(prefix=f"chat-{stage}" if stage else None)
        try:
            created = store.create_tables()
        except (PynamoDBException, StoreError) as error:
            raise CommandError(f"Could not create the tables: {error}") from error
        for model in store.models:
            name = model.Meta.table_name
            state = "created" if name in created else "exists"
            self.stdout.write(f"{name}: {state}")
