"""Backups of claire's database and settings, each proven restorable by `verify`."""
