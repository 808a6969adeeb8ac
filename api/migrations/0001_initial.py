# RateLimitCounter moves here from the signalsource app. Its table and rows are kept: the model is
# taken over in Django's state only (the table already exists, made by signalsource 0002), then the
# table is renamed to this app's name. signalsource 0003 drops the model from that app's state.

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("signalsource", "0002_ratelimitcounter"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="RateLimitCounter",
                    fields=[
                        ("key", models.CharField(max_length=100, primary_key=True, serialize=False)),
                        ("window_start", models.BigIntegerField()),
                        ("count", models.IntegerField()),
                    ],
                    options={
                        "verbose_name": "rate limit counter",
                        "db_table": "signalsource_ratelimitcounter",
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name="ratelimitcounter", table=None),
    ]
