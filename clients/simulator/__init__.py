"""The fleet simulator: many tablets and staff against a real server behind a faulty network."""
