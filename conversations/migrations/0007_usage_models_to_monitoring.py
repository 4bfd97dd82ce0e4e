# The usage models now belong to `monitoring` (monitoring/migrations/0001_usage_models.py, which
# created them there first): forget them here, in the migration state only. Their tables, rows,
# indexes and constraints stay exactly as they are; `monitoring` uses them under the same names.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0006_applied_turn_records"),
        ("monitoring", "0001_usage_models"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name="ActivityRollup"),
                migrations.DeleteModel(name="UsageRollup"),
                migrations.DeleteModel(name="UsageRecord"),
            ],
        ),
    ]
