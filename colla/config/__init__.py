"""The operator's files: globals.yml, the inventory, passwords.yml and config overrides."""
