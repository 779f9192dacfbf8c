"""The workflow document: loading, schema, typed model, validation, migrations, states."""
