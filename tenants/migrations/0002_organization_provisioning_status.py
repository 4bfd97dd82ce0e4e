# Organization.status gains "provisioning" and "failed" (the platform API creates
# organizations whose schema a Celery task builds). Choices only: no change in the database.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="organization",
            name="status",
            field=models.CharField(
                choices=[
                    ("provisioning", "Provisioning"),
                    ("active", "Active"),
                    ("suspended", "Suspended"),
                    ("failed", "Failed"),
                ],
                default="active",
                max_length=20,
            ),
        ),
    ]
