# RateLimitCounter now belongs to the api app (api 0001 takes over the table and renames it); here it
# only leaves this app's state, so the table and its rows are untouched.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("signalsource", "0002_ratelimitcounter"),
        ("api", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="RateLimitCounter")],
            database_operations=[],
        ),
    ]
