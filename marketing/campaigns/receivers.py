"""The shop's signals that start and stop flows (docs/campaigns.md, "Flows")."""
