"""The token tally: cached token counts summed by tokenizer and size, kept by triggers.

Statement-level triggers see a whole statement's rows at once (transition tables), so a batch of
500 upserted counts costs one grouped write to the tally, not 500. The tally is filled from the
counts already stored, under a lock that keeps writers out until the triggers are in place.
"""

from django.db import migrations, models

TALLY = "embeddings_tokentally"
COUNTS = "embeddings_tokencount"

# One function per event: each reads only the transition tables its trigger declares.
ADD = f"""
    INSERT INTO {TALLY} (tokenizer, tokens, items)
    SELECT tokenizer, tokens, count(*) FROM new_rows GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (tokenizer, tokens) DO UPDATE SET items = {TALLY}.items + EXCLUDED.items;
"""
SUBTRACT = f"""
    UPDATE {TALLY} AS tally SET items = tally.items - gone.items
    FROM (SELECT tokenizer, tokens, count(*) AS items FROM old_rows GROUP BY 1, 2) AS gone
    WHERE tally.tokenizer = gone.tokenizer AND tally.tokens = gone.tokens;
    DELETE FROM {TALLY} AS tally USING (SELECT DISTINCT tokenizer, tokens FROM old_rows) AS gone
    WHERE tally.tokenizer = gone.tokenizer AND tally.tokens = gone.tokens AND tally.items <= 0;
"""
FUNCTIONS = {
    "insert": ("REFERENCING NEW TABLE AS new_rows", ADD),
    "update": ("REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows", SUBTRACT + ADD),
    "delete": ("REFERENCING OLD TABLE AS old_rows", SUBTRACT),
    "truncate": ("", f"DELETE FROM {TALLY};"),
}


def _function(event: str) -> str:
    return f"{TALLY}_on_{event}"


CREATE = [
    f"LOCK TABLE {COUNTS} IN SHARE ROW EXCLUSIVE MODE",
    *(
        f"CREATE FUNCTION {_function(event)}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN {body} RETURN NULL; END $$"
        for event, (_, body) in FUNCTIONS.items()
    ),
    *(
        f"CREATE TRIGGER {_function(event)} AFTER {event.upper()} ON {COUNTS} {referencing} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {_function(event)}()"
        for event, (referencing, _) in FUNCTIONS.items()
    ),
    f"INSERT INTO {TALLY} (tokenizer, tokens, items) "
    f"SELECT tokenizer, tokens, count(*) FROM {COUNTS} GROUP BY 1, 2",
]
DROP = [
    *(f"DROP TRIGGER IF EXISTS {_function(event)} ON {COUNTS}" for event in FUNCTIONS),
    *(f"DROP FUNCTION IF EXISTS {_function(event)}()" for event in FUNCTIONS),
]


class Migration(migrations.Migration):
    dependencies = [
        ("embeddings", "0007_job_recovered_at"),
    ]

    operations = [
        migrations.CreateModel(
            name="TokenTally",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("tokenizer", models.CharField(max_length=100)),
                ("tokens", models.PositiveIntegerField()),
                ("items", models.BigIntegerField()),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("tokenizer", "tokens"), name="token_tally_unique_tokenizer_tokens"
                    )
                ],
            },
        ),
        migrations.RunSQL(
            sql=CREATE, reverse_sql=[*DROP, f"DELETE FROM {TALLY}"], elidable=False
        ),
    ]
